// GC: release every attachment and route of ours in this network that the runtime does not list as valid.
import * as Effect from "effect/Effect"
import { CniCode, cniError } from "../../adapters/cni/CniError.ts"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { collectGarbage, describeReport } from "../../domain/Collection.ts"

/**
 * Collect garbage with the runtime's valid attachments (no grace period: the runtime never runs GC
 * beside ADD or DEL, and an ADD that loses its record to GC anyway notices it and tries again).
 * Keeps going on errors and reports them at the end (code 5). No output on success.
 */
export const gc = (request: CniRequest<"GC">) =>
  Effect.gen(function* () {
    const report = yield* collectGarbage(request.settings.network, { valid: request.valid, graceMillis: 0 })
    yield* Effect.logInfo(`GC ${request.settings.network.name}: ${describeReport(report)}`)
    if (report.errors.length > 0) {
      return yield* cniError(
        CniCode.ioFailure,
        `GC: ${report.errors.length} release${report.errors.length > 1 ? "s" : ""} failed`,
        report.errors.join("; ")
      )
    }
  })
