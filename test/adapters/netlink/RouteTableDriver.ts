// Runs NetlinkRouteTable operations given as JSON on stdin, inside a test's network namespace; prints JSON results.
// Usage (through Netns.exec): node test/adapters/netlink/RouteTableDriver.ts < {"options":{...},"steps":[...]}
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as NetlinkRouteTable from "../../../src/adapters/NetlinkRouteTable.ts"
import type { RtnlTransport } from "../../../src/adapters/netlink/RtnlTransport.ts"
import { type Cidr, formatIp, type Ip, parseCidr, parseIp } from "../../../src/domain/Ip.ts"
import type { Route } from "../../../src/domain/Route.ts"
import { RouteTable } from "../../../src/domain/RouteTable.ts"
import { assertPrivateNetns } from "../../support/NetnsGuard.ts"

/**
 * One port call: `arg` is an address, or a prefix for hostRoutesIn. `sh` runs `arg` as a shell
 * command in the namespace between calls (e.g. `ip link del pod0`); its result is `{ok: null}`.
 * `concurrently` runs `steps` at once on the same table; its result is `{ok: [their results]}`.
 */
export type Step =
  | {
      readonly op: "claim" | "release" | "isTaken" | "routesTo" | "hostRoutesIn" | "sourceTowards" | "sh"
      readonly arg: string
    }
  | { readonly op: "concurrently"; readonly steps: ReadonlyArray<Step> }

/** Request names (`RTM_GETROUTE`, ...) whose replies the socket loses: sent to the kernel, never answered. */
export type Stall = ReadonlyArray<string>

export interface Script {
  readonly options?: NetlinkRouteTable.Options
  /** Build the table over a transport that loses these requests' replies (else the production layer). */
  readonly stall?: Stall
  /**
   * Starve the process right after each request is sent: block the event loop for `ms` (as a
   * loaded node does), so the reply waits in the socket while the timeout expires.
   */
  readonly starve?: { readonly ms: number }
  readonly steps: ReadonlyArray<Step>
}

/** A Route with addresses as text. */
export interface RouteJson extends Omit<Route, "host" | "nextHop"> {
  readonly host: string
  readonly nextHop?: string
}

export type StepResult =
  | { readonly ok: unknown }
  | { readonly error: { readonly _tag: string } & Record<string, unknown> }

const address = (text: string): Ip =>
  Option.getOrThrowWith(parseIp(text), () => new Error(`not an address: ${text}`))
const prefix = (text: string): Cidr =>
  Option.getOrThrowWith(parseCidr(text), () => new Error(`not a prefix: ${text}`))

const routeJson = ({ host, nextHop, ...rest }: Route): RouteJson => ({
  ...rest,
  host: formatIp(host),
  ...(nextHop === undefined ? {} : { nextHop: formatIp(nextHop) })
})

const call = (table: RouteTable["Service"], step: Step): Effect.Effect<unknown, unknown> => {
  switch (step.op) {
    case "concurrently":
      return Effect.all(
        step.steps.map((inner) => asResult(call(table, inner))),
        { concurrency: "unbounded" }
      )
    case "sh":
      return Effect.sync(() => {
        execFileSync("sh", ["-c", step.arg], { stdio: ["ignore", "ignore", "inherit"] })
      })
    case "claim":
      return table.claim(address(step.arg))
    case "release":
      return table.release(address(step.arg))
    case "isTaken":
      return table.isTaken(address(step.arg))
    case "routesTo":
      return Effect.map(table.routesTo(address(step.arg)), (routes) => routes.map(routeJson))
    case "hostRoutesIn":
      return Effect.map(table.hostRoutesIn(prefix(step.arg)), (routes) => routes.map(routeJson))
    case "sourceTowards":
      return Effect.map(table.sourceTowards(address(step.arg)), (source) =>
        source === undefined ? null : formatIp(source)
      )
  }
}

/** A failure's fields, its message included (an Error's message is not an own enumerable field). */
const errorJson = (error: unknown): { readonly _tag: string } & Record<string, unknown> => ({
  ...(error as { _tag: string }),
  ...(error instanceof Error && error.message !== "" ? { message: error.message } : {})
})

const asResult = (effect: Effect.Effect<unknown, unknown>): Effect.Effect<StepResult> =>
  effect.pipe(
    Effect.map((ok): StepResult => ({ ok: ok ?? null })),
    Effect.catch((error) => Effect.succeed<StepResult>({ error: errorJson(error) }))
  )

/**
 * A real transport that loses the replies to `stalled` requests: the request reaches the kernel
 * (which acts on it and answers), but the answer never reaches the adapter.
 */
const losingReplies = async (stalled: Stall, starveMs: number): Promise<() => RtnlTransport> => {
  const { openTransport, requestNames } = await import("../../../src/adapters/netlink/RtnlTransport.ts")
  const starve = () => {
    const until = performance.now() + starveMs
    while (performance.now() < until) {
      // busy: nothing else of this process runs
    }
  }
  return () => {
    const real = openTransport()
    return {
      request: (type, payload, flags) => {
        const reply = real.request(type, payload, flags)
        if (starveMs > 0) setImmediate(starve)
        return stalled.includes(requestNames[type] ?? "") ? reply.then(() => new Promise(() => {})) : reply
      },
      close: real.close
    }
  }
}

const tableLayer = async (script: Script): Promise<Layer.Layer<RouteTable, unknown>> =>
  script.stall === undefined && script.starve === undefined
    ? NetlinkRouteTable.layer(script.options)
    : Layer.effect(
        RouteTable,
        NetlinkRouteTable.makeWith(
          script.options,
          await losingReplies(script.stall ?? [], script.starve?.ms ?? 0)
        )
      )

assertPrivateNetns()
const script = JSON.parse(readFileSync(0, "utf8")) as Script
const program = Effect.gen(function* () {
  const table = yield* RouteTable
  const results: Array<StepResult> = []
  for (const step of script.steps) results.push(yield* asResult(call(table, step)))
  return results
}).pipe(
  Effect.provide(await tableLayer(script)),
  Effect.map((results) => ({ results })),
  Effect.catch((error) => Effect.succeed({ layerError: errorJson(error) })),
  Effect.scoped
)
process.stdout.write(`${JSON.stringify(await Effect.runPromise(program))}\n`)
