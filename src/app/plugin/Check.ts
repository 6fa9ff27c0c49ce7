// CHECK: the owner's record and routes must match what the runtime believes (prevResult).
import * as Effect from "effect/Effect"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { checkAttachment } from "../../domain/Attach.ts"

/** Fail when the attachment is unknown (3) or not as expected (103). */
export const check = (request: CniRequest<"CHECK">) =>
  Effect.gen(function* () {
    const { settings, owner } = request
    yield* checkAttachment(settings.network, owner, request.expected)
    yield* Effect.logDebug(`CHECK ${settings.network.name} ${owner.containerId}/${owner.ifname}: ok`)
  })
