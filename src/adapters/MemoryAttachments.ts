// Owner records in memory: the Attachments port for unit tests and embedding applications.
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import {
  type Attachment,
  type AttachmentKey,
  Attachments,
  AttachmentsError,
  byContainerThenIfname
} from "../domain/Attachments.ts"
import { checkAttachmentKey, checkNetworkName } from "../domain/ContainerId.ts"

const keyText = (key: AttachmentKey): string => JSON.stringify([key.network, key.containerId, key.ifname])

/**
 * Fail like the file store does for a key it would refuse, so tests on memory catch what
 * production rejects. The message names the field: "containerId: must not be empty".
 */
const validKey = (operation: string, key: AttachmentKey): Effect.Effect<void, AttachmentsError> => {
  const problem = checkAttachmentKey(key)
  return problem === undefined
    ? Effect.void
    : Effect.fail(new AttachmentsError({ operation, message: `${problem.field}: ${problem.message}` }))
}

/** Build a fresh, empty store. */
export const make: Effect.Effect<Attachments["Service"]> = Effect.gen(function* () {
  const records = yield* Ref.make(HashMap.empty<string, Attachment>())
  return Attachments.of({
    get: (key) =>
      Effect.andThen(
        validKey("get", key),
        Effect.map(Ref.get(records), (map) => Option.getOrUndefined(HashMap.get(map, keyText(key))))
      ),
    put: (attachment) =>
      Effect.andThen(
        validKey("put", attachment),
        Ref.update(records, (map) =>
          HashMap.set(map, keyText(attachment), {
            network: attachment.network,
            containerId: attachment.containerId,
            ifname: attachment.ifname,
            addresses: [...attachment.addresses],
            pending: [...attachment.pending]
          })
        )
      ),
    remove: (key) =>
      Effect.andThen(
        validKey("remove", key),
        Ref.update(records, (map) => HashMap.remove(map, keyText(key)))
      ),
    list: (network) => {
      const problem = checkNetworkName(network)
      if (problem !== undefined) {
        return Effect.fail(
          new AttachmentsError({ operation: "list", message: `network: ${problem.message}` })
        )
      }
      return Effect.map(Ref.get(records), (map) =>
        [...HashMap.values(map)].filter((a) => a.network === network).sort(byContainerThenIfname)
      )
    }
  })
})

/** A fresh empty store per build. */
export const layer: Layer.Layer<Attachments> = Layer.effect(Attachments, make)
