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

/** The pod (or named container) an attachment belongs to, as the runtime named it; for operators only. */
export interface PodName {
  readonly namespace?: string
  readonly name: string
}

/** `namespace/name`, or the name alone when the runtime sent no namespace (podman). */
export const formatPod = (pod: PodName): string =>
  pod.namespace === undefined ? pod.name : `${pod.namespace}/${pod.name}`

/**
 * What one attachment holds.
 * `pending`: addresses about to be claimed or claimed but not yet verified (written before the
 * claim, so a crash leaves every route of ours explained). `addresses`: confirmed ones.
 */
export interface Attachment extends AttachmentKey {
  readonly addresses: ReadonlyArray<Ip>
  readonly pending: ReadonlyArray<Ip>
  /**
   * The boot of this node the record was written in. Routes die with a boot, so a record of
   * another boot explains no route of this one: it is stale (DESIGN.md invariants). Undefined for
   * records written before boots were stamped: taken as this boot.
   */
  readonly boot?: string
  /** When the record was last written, ms since the epoch (Effect's Clock): GC's grace period. */
  readonly writtenAt?: number
  /** The pod the runtime named (CNI_ARGS), when it named one: shown by `list`, never used to decide. */
  readonly pod?: PodName
}

/**
 * A record that could not be read (corrupt, misfiled), moved aside for the operator. The addresses
 * found in its text count as held until an operator removes it, so nothing it may explain is
 * released or handed out again.
 */
export interface QuarantinedRecord {
  readonly network: string
  /** Where it was found (file name or key), for operators. */
  readonly name: string
  readonly reason: string
  readonly addresses: ReadonlyArray<Ip>
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
 * Gotchas:
 * - keys come from validated CNI input; adapters must still never turn a raw container ID into a
 *   path without checking it.
 * - a corrupt record is never an error of `get` or `list`: the adapter moves it aside and reports
 *   it through `quarantined` (so DEL of its owner succeeds and its addresses stay held).
 * - read, decide and write under the network's NodeLock (see Ownership.ts).
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
    /** Every readable record of a network (of any boot). */
    list(network: string): Effect.Effect<ReadonlyArray<Attachment>, AttachmentsError>
    /** Records of a network that were moved aside as corrupt, with the addresses found in them. */
    quarantined(network: string): Effect.Effect<ReadonlyArray<QuarantinedRecord>, AttachmentsError>
    /** This node's current boot: what `put` callers stamp records with (Attachment.boot). */
    readonly boot: Effect.Effect<string, AttachmentsError>
  }
>()("routetable-ipam/Attachments") {}
