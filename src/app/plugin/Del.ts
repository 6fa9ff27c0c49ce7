// DEL: release what the owner holds; idempotent, with or without prevResult.
import * as Effect from "effect/Effect"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { detach } from "../../domain/Attach.ts"

/** Release the owner's addresses (prevResult / CIDR addresses are only a hint when no record exists). */
export const del = (request: CniRequest<"DEL">) =>
  Effect.gen(function* () {
    const { settings, owner } = request
    yield* detach(settings.network, owner, request.hint)
    yield* Effect.logInfo(`DEL ${settings.network.name} ${owner.containerId}/${owner.ifname}`)
  })
