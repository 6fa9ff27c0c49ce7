// GC: release every attachment and route of ours in this network that the runtime does not list as valid.
import * as Effect from "effect/Effect"
import { CniCode, cniError } from "../../adapters/cni/CniError.ts"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { collectGarbage } from "../../domain/Attach.ts"
import { formatIp } from "../../domain/Ip.ts"

/** Collect garbage; keep going on errors and report them at the end (code 5). No output on success. */
export const gc = (request: CniRequest<"GC">) =>
  Effect.gen(function* () {
    const report = yield* collectGarbage(request.settings.network, request.valid)
    yield* Effect.logInfo(
      `GC ${request.settings.network.name}: released ${report.releasedAttachments.length} attachments ` +
        `(${report.releasedAttachments.map((o) => `${o.containerId}/${o.ifname}`).join(", ")}) and ` +
        `${report.releasedRoutes.length} unexplained routes (${report.releasedRoutes.map(formatIp).join(", ")})`
    )
    if (report.errors.length > 0) {
      return yield* cniError(
        CniCode.ioFailure,
        `GC: ${report.errors.length} release${report.errors.length > 1 ? "s" : ""} failed`,
        report.errors.join("; ")
      )
    }
  })
