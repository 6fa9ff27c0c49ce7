// Before ADD and in STATUS: ask the fabric whether claims propagate; "cannot ask" counts as unhealthy.
import * as Effect from "effect/Effect"
import type { OnUnhealthy } from "../../adapters/cni/IpamKnobs.ts"
import { FabricHealth } from "../../domain/FabricHealth.ts"

/** The fabric as the plugin sees it: healthy or not, with one line for operators. */
export interface FabricState {
  readonly healthy: boolean
  readonly detail: string
}

/** Ask once; a failure to ask is "unhealthy" (propagation cannot be guaranteed either way). */
export const fabricState: Effect.Effect<FabricState, never, FabricHealth> = Effect.gen(function* () {
  const health = yield* FabricHealth
  return yield* health.check.pipe(
    Effect.map((report) => ({ healthy: report.healthy, detail: report.detail })),
    Effect.catchTag("FabricHealthError", (e) => Effect.succeed({ healthy: false, detail: e.message }))
  )
})

/**
 * Whether `verb` must stop: undefined when the fabric is healthy or `onUnhealthy` is "proceed"
 * (a warning is logged then); otherwise the unhealthy state, for the caller's CNI error.
 */
export const fabricRefusal = (
  verb: string,
  onUnhealthy: OnUnhealthy
): Effect.Effect<FabricState | undefined, never, FabricHealth> =>
  Effect.gen(function* () {
    const state = yield* fabricState
    if (state.healthy) return undefined
    if (onUnhealthy === "fail") return state
    yield* Effect.logWarning(
      `${verb}: fabric unhealthy (${state.detail}); going on because ipam.fabricHealth.onUnhealthy is "proceed": ` +
        "claims may not reach other nodes, so an address can be handed out twice"
    )
    return undefined
  })
