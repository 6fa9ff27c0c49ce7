// STATUS: can the plugin serve an ADD right now? Code 50 when a pool is exhausted or the table unreadable.
import * as Effect from "effect/Effect"
import { CniCode, cniError } from "../../adapters/cni/CniError.ts"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { poolStatus } from "../../domain/Attach.ts"
import { describePool } from "../../domain/Pool.ts"

/** Succeed (no output) when every pool has a free address; else fail with code 50 naming the pools. */
export const status = (request: CniRequest<"STATUS">) =>
  Effect.gen(function* () {
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
