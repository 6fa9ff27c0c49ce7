// ADD: one address from every pool of the network, as the result of the config's cniVersion.
import * as Effect from "effect/Effect"
import { CniCode, cniError } from "../../adapters/cni/CniError.ts"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { type CniResult, encodeResult } from "../../adapters/cni/CniResult.ts"
import { attach } from "../../domain/Attach.ts"
import type { AttemptOutcome } from "../../domain/Claim.ts"
import { formatIp } from "../../domain/Ip.ts"
import { fabricRefusal } from "./FabricGate.ts"

/** Every claim attempt at debug level: what was tried and why it was kept or let go. */
const logAttempt = (outcome: AttemptOutcome) =>
  Effect.logDebug(
    `attempt ${outcome.attempt} ${formatIp(outcome.address)}: ${outcome._tag}` +
      ("competitors" in outcome
        ? ` (competing: ${outcome.competitors.map((r) => (r.nextHop === undefined ? `protocol ${r.protocol}` : `via ${formatIp(r.nextHop)}`)).join(", ")})`
        : "")
  )

/**
 * Ask the fabric first (unhealthy or unreachable: code 11, nothing claimed or written, unless
 * `onUnhealthy` is "proceed"), then attach the owner (requested addresses exactly) and encode the result.
 */
export const add = (request: CniRequest<"ADD">) =>
  Effect.gen(function* () {
    const { settings, owner } = request
    const refusal = yield* fabricRefusal(
      `ADD ${settings.network.name} ${owner.containerId}/${owner.ifname}`,
      settings.onUnhealthy
    )
    if (refusal !== undefined) {
      return yield* cniError(
        CniCode.tryAgainLater,
        `fabric unhealthy: ${refusal.detail}; claims would not reach other nodes, so nothing was allocated; try again later`
      )
    }
    const assigned = yield* attach(settings.network, owner, request.requested, logAttempt)
    yield* Effect.logInfo(
      `ADD ${settings.network.name} ${owner.containerId}/${owner.ifname}: ${assigned.map((a) => formatIp(a.address)).join(", ")}`
    )
    return encodeResult(request.cniVersion, assigned, settings.routes, settings.dns) satisfies CniResult
  })
