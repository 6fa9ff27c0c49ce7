// TEST ONLY: SIGKILL the plugin at one step of ADD (RTIPAM_FAULT_INJECT), to show a later DEL, GC or ADD recovers.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Attachments } from "../../domain/Attachments.ts"
import { equals, type Ip } from "../../domain/Ip.ts"
import { RouteTable, RouteTableError } from "../../domain/RouteTable.ts"
import { PluginAdapters, type PluginServices } from "./PluginAdapters.ts"

/**
 * Where ADD dies:
 * - after-intent: right after the owner record listing the candidate as pending is written (no route yet);
 * - after-claim: right after the kernel accepted our route (before the propagation wait);
 * - during-wait: a few milliseconds into the propagation wait W (keep W well above that);
 * - after-verify: right after the verifying read of the routes, before the record is confirmed.
 */
export const faultPoints = ["after-intent", "after-claim", "during-wait", "after-verify"] as const
export type FaultPoint = (typeof faultPoints)[number]

const isFaultPoint = (value: string): value is FaultPoint =>
  (faultPoints as ReadonlyArray<string>).includes(value)

const killNow = (): void => {
  process.kill(process.pid, "SIGKILL")
}

/** Dies here: SIGKILL to ourselves (never returns). */
const die: Effect.Effect<never> = Effect.sync(killNow).pipe(Effect.andThen(Effect.never))

/** The services of one invocation, with the ports decorated to die at `point`. */
const decorate = (
  point: FaultPoint,
  services: Context.Context<PluginServices>
): Context.Context<PluginServices> => {
  const table = Context.get(services, RouteTable)
  const store = Context.get(services, Attachments)
  let claimed: Ip | undefined
  const decoratedTable = RouteTable.of({
    ...table,
    claim: (host) =>
      table.claim(host).pipe(
        Effect.tap(() => {
          claimed = host
          if (point === "after-claim") return die
          if (point === "during-wait") return Effect.sync(() => void setTimeout(killNow, 5))
          return Effect.void
        })
      ),
    routesTo: (host) =>
      table
        .routesTo(host)
        .pipe(
          Effect.tap(() =>
            point === "after-verify" && claimed !== undefined && equals(claimed, host) ? die : Effect.void
          )
        )
  })
  const decoratedStore = Attachments.of({
    ...store,
    put: (attachment) =>
      store
        .put(attachment)
        .pipe(
          Effect.tap(() => (point === "after-intent" && attachment.pending.length > 0 ? die : Effect.void))
        )
  })
  return services.pipe(Context.add(RouteTable, decoratedTable), Context.add(Attachments, decoratedStore))
}

/**
 * TEST ONLY. `adapters` whose ports SIGKILL this process at `value` (one of `faultPoints`); any
 * other value makes every verb fail with code 5 naming the variable. Installed by main.ts in CNI
 * mode when RTIPAM_FAULT_INJECT is set; never set it in production.
 */
export const withFaultInjection = (
  value: string,
  adapters: Layer.Layer<PluginAdapters>
): Layer.Layer<PluginAdapters> =>
  Layer.effect(
    PluginAdapters,
    Effect.gen(function* () {
      const base = yield* PluginAdapters
      return PluginAdapters.of({
        layerFor: (settings) =>
          isFaultPoint(value)
            ? Layer.flatMap(base.layerFor(settings), (services) =>
                Layer.succeedContext(decorate(value, services))
              )
            : Layer.effectContext(
                Effect.fail(
                  new RouteTableError({
                    operation: "fault injection",
                    message: `RTIPAM_FAULT_INJECT=${JSON.stringify(value)} is not one of ${faultPoints.join(", ")}`
                  })
                )
              )
      })
    })
  ).pipe(Layer.provide(adapters))
