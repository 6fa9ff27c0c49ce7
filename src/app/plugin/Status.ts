// STATUS: can the plugin serve an ADD right now? 51 when the fabric is unhealthy, 50 when a pool is exhausted or the table unreadable.
import * as Effect from "effect/Effect"
import { CniCode, cniError } from "../../adapters/cni/CniError.ts"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { poolStatus } from "../../domain/Attach.ts"
import { describePool } from "../../domain/Pool.ts"
import { fabricRefusal } from "./FabricGate.ts"

/**
 * Succeed (no output) when the fabric is healthy (or `onUnhealthy` is "proceed") and every pool
 * has a free address; else fail with 51 (fabric) or 50 (pools, table).
 * `ipam.device` is not checked: a fresh node has no bridge before its first pod, and only ADD's
 * insert needs it (ADD answers 7 when it is missing), so its absence never makes a node unready.
 */
export const status = (request: CniRequest<"STATUS">) =>
  Effect.gen(function* () {
    const refusal = yield* fabricRefusal(
      `STATUS ${request.settings.network.name}`,
      request.settings.onUnhealthy
    )
    if (refusal !== undefined) {
      return yield* cniError(
        CniCode.statusLimitedConnectivity,
        `fabric unhealthy: ${refusal.detail}; claims do not reach other nodes, ADD is refused until it recovers`
      )
    }
    const pools = yield* poolStatus(request.settings.network).pipe(
      Effect.mapError((e) =>
        cniError(CniCode.statusUnavailable, `routing table: ${e.operation} failed: ${e.message}`)
      )
    )
    const exhausted = pools.filter((p) => p.exhausted)
    if (exhausted.length > 0) {
      return yield* cniError(
        CniCode.statusUnavailable,
        `cannot serve ADD: no free address left in ${exhausted.map((p) => describePool(p.pool)).join("; ")}`
      )
    }
  })
