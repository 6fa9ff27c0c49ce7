// Port: which container interface owns which addresses on this node (makes DEL and GC possible).
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Ip } from "./Ip.ts"

/** Identifies one attachment: a container's interface on one network. */
export interface AttachmentKey {
  readonly network: string
  readonly containerId: string
  readonly ifname: string
}

/**
 * What one attachment holds.
 * `pending`: addresses about to be claimed or claimed but not yet verified (written before the
 * claim, so a crash leaves every route of ours explained). `addresses`: confirmed ones.
 */
export interface Attachment extends AttachmentKey {
  readonly addresses: ReadonlyArray<Ip>
  readonly pending: ReadonlyArray<Ip>
}

/** Records of a network in a stable order: by container ID, then interface name. */
export const byContainerThenIfname = (a: AttachmentKey, b: AttachmentKey): number =>
  a.containerId < b.containerId
    ? -1
    : a.containerId > b.containerId
      ? 1
      : a.ifname < b.ifname
        ? -1
        : a.ifname > b.ifname
          ? 1
          : 0

/** The store could not be read or written. */
export class AttachmentsError extends Schema.TaggedError<AttachmentsError>()("AttachmentsError", {
  operation: Schema.String,
  message: Schema.String
}) {}

/**
 * Owner records of this node. Each write replaces the whole record atomically.
 *
 * Gotcha: keys come from validated CNI input; adapters must still never turn a raw
 * container ID into a path without checking it.
 */
export class Attachments extends Context.Service<
  Attachments,
  {
    /** The record for this key, if any. */
    get(key: AttachmentKey): Effect.Effect<Attachment | undefined, AttachmentsError>
    /** Create or replace the record (atomic). */
    put(attachment: Attachment): Effect.Effect<void, AttachmentsError>
    /** Remove the record; succeeds when there is none. */
    remove(key: AttachmentKey): Effect.Effect<void, AttachmentsError>
    /** Every record of a network. */
    list(network: string): Effect.Effect<ReadonlyArray<Attachment>, AttachmentsError>
  }
>()("routetable-ipam/Attachments") {}
