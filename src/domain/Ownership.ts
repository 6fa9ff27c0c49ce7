// The one release rule: an address is released only for the record that holds it, while no other record names it.
import * as Effect from "effect/Effect"
import {
  type Attachment,
  type AttachmentKey,
  Attachments,
  type AttachmentsError,
  type QuarantinedRecord
} from "./Attachments.ts"
import { type Ip, keyOf } from "./Ip.ts"
import { addressLockName, type NodeLockTimeout, withNodeLock } from "./NodeLock.ts"
import { RouteTable, type RouteTableError } from "./RouteTable.ts"

/** Container and interface of a record, as one string. */
export const ownerKeyOf = (key: Pick<AttachmentKey, "containerId" | "ifname">): string =>
  `${key.containerId}\u0000${key.ifname}`

/** A record of another boot explains no route of this boot (reboots clear the table, not the records). */
export const isStale = (record: Attachment, boot: string): boolean =>
  record.boot !== undefined && record.boot !== boot

/** Every address a record names: confirmed and pending. */
export const namedBy = (record: Attachment): ReadonlyArray<Ip> => [...record.addresses, ...record.pending]

/** Holder of an address that is not a live record: a record moved aside as corrupt. */
export const quarantineHolder = "\u0000quarantined"

/** The records of one network on this node as one read: who names which address. */
export interface Holdings {
  readonly boot: string
  /** Records of this boot. */
  readonly live: ReadonlyArray<Attachment>
  /** Records of another boot: they hold nothing. */
  readonly stale: ReadonlyArray<Attachment>
  /** For each address (Ip keyOf): the owner keys of live records naming it, and quarantineHolder for quarantined ones. */
  readonly holders: ReadonlyMap<string, ReadonlyArray<string>>
}

/** Whether anybody but `owner` names `address` (a live record of this boot, or a quarantined one). */
export const heldByOther = (holdings: Holdings, address: Ip, owner: string): boolean =>
  (holdings.holders.get(keyOf(address)) ?? []).some((holder) => holder !== owner)

/** Whether any live record or quarantined record names `address`. */
export const isNamed = (holdings: Holdings, address: Ip): boolean =>
  (holdings.holders.get(keyOf(address))?.length ?? 0) > 0

/** Who names what, from records and quarantined records of one network. Pure. */
export const holdingsFrom = (
  records: ReadonlyArray<Attachment>,
  quarantined: ReadonlyArray<QuarantinedRecord>,
  boot: string
): Holdings => {
  const holders = new Map<string, Array<string>>()
  const add = (address: Ip, holder: string) => {
    const key = keyOf(address)
    const list = holders.get(key)
    if (list === undefined) holders.set(key, [holder])
    else if (!list.includes(holder)) list.push(holder)
  }
  const live: Array<Attachment> = []
  const stale: Array<Attachment> = []
  for (const record of records) {
    if (isStale(record, boot)) {
      stale.push(record)
      continue
    }
    live.push(record)
    for (const address of namedBy(record)) add(address, ownerKeyOf(record))
  }
  for (const q of quarantined) for (const address of q.addresses) add(address, quarantineHolder)
  return { boot, live, stale, holders }
}

/** Read every record of `network` once. Call it under the network's NodeLock, right before deciding. */
export const readHoldings = (network: string): Effect.Effect<Holdings, AttachmentsError, Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const boot = yield* store.boot
    return holdingsFrom(yield* store.list(network), yield* store.quarantined(network), boot)
  })

/** What a release on behalf of a record did. */
export interface Released {
  /** Addresses whose route of ours was released (or already absent). */
  readonly released: ReadonlyArray<Ip>
  /** Addresses kept: the record does not name them, or another record (or a quarantined one) does, or `onlyIf` refused. */
  readonly kept: ReadonlyArray<Ip>
  /** Of `kept`: those whose record, read again under the lock, `onlyIf` refused (it was rewritten since the caller read it). */
  readonly changed: ReadonlyArray<Ip>
}

const sameAddresses = (a: ReadonlyArray<Ip>, b: ReadonlyArray<Ip>): boolean =>
  a.length === b.length && a.every((x, i) => keyOf(x) === keyOf(b[i] ?? x) && b[i] !== undefined)

/**
 * Whether two reads of one owner's record are the same write: same boot, same stamp, same
 * addresses and pending candidates. A GC that planned on one read releases only while this holds
 * (an ADD that confirmed its candidate since then rewrote the record).
 */
export const sameRecord = (a: Attachment, b: Attachment): boolean =>
  a.boot === b.boot &&
  a.writtenAt === b.writtenAt &&
  sameAddresses(a.addresses, b.addresses) &&
  sameAddresses(a.pending, b.pending)

/**
 * THE release rule (DESIGN.md invariants 1-3). Release `addresses` on behalf of the record of
 * `owner`: each one only while that record, read again now, names it and no other record of the
 * network (live or quarantined) does. A record of another boot holds nothing, so nothing is
 * released for it. Does not change the record: the caller writes what is left.
 *
 * Each address is decided and released under its own node lock (addressLockName), with the
 * records read again under that lock. With `onlyIf`, an address is released only while the
 * owner's record, as read under that lock, passes it (GC: the record it planned on, unchanged).
 */
export const releaseOnBehalf = (
  network: string,
  owner: AttachmentKey,
  addresses: ReadonlyArray<Ip>,
  options?: { readonly onlyIf?: (current: Attachment) => boolean }
): Effect.Effect<Released, RouteTableError | AttachmentsError | NodeLockTimeout, RouteTable | Attachments> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    const store = yield* Attachments
    const self = ownerKeyOf(owner)
    const released: Array<Ip> = []
    const kept: Array<Ip> = []
    const changed: Array<Ip> = []
    for (const address of addresses) {
      const outcome = yield* withNodeLock(
        addressLockName(network, address),
        Effect.gen(function* () {
          const holdings = yield* readHoldings(network)
          const record = yield* store.get(owner)
          const mine =
            record !== undefined &&
            !isStale(record, holdings.boot) &&
            namedBy(record).some((a) => keyOf(a) === keyOf(address))
          if (!mine || heldByOther(holdings, address, self)) return "kept" as const
          if (options?.onlyIf !== undefined && !options.onlyIf(record)) return "changed" as const
          yield* table.release(address)
          return "released" as const
        })
      ).pipe(Effect.uninterruptible)
      if (outcome === "released") released.push(address)
      else kept.push(address)
      if (outcome === "changed") changed.push(address)
    }
    return { released, kept, changed }
  })

/**
 * Release routes of ours that no record explains (orphans). Only GC (and `release --ip`) does this
 * (invariant 3): each address under its own node lock, after reading the records again.
 */
export const releaseOrphans = (
  network: string,
  addresses: ReadonlyArray<Ip>
): Effect.Effect<
  ReadonlyArray<Ip>,
  RouteTableError | AttachmentsError | NodeLockTimeout,
  RouteTable | Attachments
> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    const released: Array<Ip> = []
    for (const address of addresses) {
      const freed = yield* withNodeLock(
        addressLockName(network, address),
        Effect.gen(function* () {
          if (isNamed(yield* readHoldings(network), address)) return false
          yield* table.release(address)
          return true
        })
      ).pipe(Effect.uninterruptible)
      if (freed) released.push(address)
    }
    return released
  })
