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
  byContainerThenIfname,
  type QuarantinedRecord
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

/** A memory store and what tests and simulations do to it besides the port. */
export interface MemoryStore {
  readonly store: Attachments["Service"]
  /** The node rebooted: records stay (as on a disk), the boot changes, so they turn stale. */
  readonly reboot: Effect.Effect<void>
  /** Move a record aside as if its file were corrupt; `addresses` are what could still be read of it. */
  readonly corrupt: (key: AttachmentKey, addresses: QuarantinedRecord["addresses"]) => Effect.Effect<void>
}

/** Build a fresh, empty store with its controls. Boots are named "boot-1", "boot-2", ... */
export const makeWithControl: Effect.Effect<MemoryStore> = Effect.gen(function* () {
  const records = yield* Ref.make(HashMap.empty<string, Attachment>())
  const quarantined = yield* Ref.make<ReadonlyArray<QuarantinedRecord>>([])
  const boots = yield* Ref.make(1)
  const store = Attachments.of({
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
            pending: [...attachment.pending],
            ...(attachment.boot === undefined ? {} : { boot: attachment.boot }),
            ...(attachment.writtenAt === undefined ? {} : { writtenAt: attachment.writtenAt }),
            ...(attachment.pod === undefined ? {} : { pod: { ...attachment.pod } })
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
    },
    quarantined: (network) =>
      Effect.map(Ref.get(quarantined), (list) => list.filter((q) => q.network === network)),
    boot: Effect.map(Ref.get(boots), (n) => `boot-${n}`)
  })
  return {
    store,
    reboot: Ref.update(boots, (n) => n + 1),
    corrupt: (key, addresses) =>
      Effect.andThen(
        Ref.update(records, (map) => HashMap.remove(map, keyText(key))),
        Ref.update(quarantined, (list) => [
          ...list,
          {
            network: key.network,
            name: `${key.containerId}@${key.ifname}`,
            reason: "corrupt record",
            addresses
          }
        ])
      )
  }
})

/** Build a fresh, empty store. */
export const make: Effect.Effect<Attachments["Service"]> = Effect.map(makeWithControl, (m) => m.store)

/** A fresh empty store per build. */
export const layer: Layer.Layer<Attachments> = Layer.effect(Attachments, make)
