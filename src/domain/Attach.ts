// Attachment lifecycles over the two ports: attach (ADD), detach (DEL), check, collect garbage, status.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { AddressOutsidePool, AttachmentInvalid, AttachmentUnknown } from "./AllocationError.ts"
import {
  type Attachment,
  type AttachmentKey,
  Attachments,
  type AttachmentsError,
  type PodName
} from "./Attachments.ts"
import { makePicker } from "./Candidate.ts"
import { type AttemptOutcome, type ClaimError, claimAddress } from "./Claim.ts"
import type { FabricHealthError, FabricReport } from "./FabricHealth.ts"
import { contains as subnetContains, equals, formatIp, type Ip, keyOf } from "./Ip.ts"
import type { Network } from "./Network.ts"
import { addressLockName, type NodeLockTimeout, ownerLockName, withNodeLock } from "./NodeLock.ts"
import { heldByOther, isStale, namedBy, ownerKeyOf, readHoldings, releaseOnBehalf } from "./Ownership.ts"
import { describePool, type Pool, type Range, rangeOf, subnetsOf } from "./Pool.ts"
import { isOurs } from "./Route.ts"
import { RouteTable, type RouteTableError } from "./RouteTable.ts"

/** One address handed to an attachment, with the range it came from (prefix length, gateway). */
export interface Assigned {
  readonly address: Ip
  readonly pool: Pool
  readonly range: Range
}

/** Container and interface of an attachment, without the network. */
export interface Owner {
  readonly containerId: string
  readonly ifname: string
  /** The pod the runtime named, if any: carried into the owner record for operators. */
  readonly pod?: PodName
}

const keyFor = (network: Network, owner: Owner): AttachmentKey => ({
  network: network.name,
  containerId: owner.containerId,
  ifname: owner.ifname
})

const assignedFrom = (network: Network, address: Ip): Assigned | undefined => {
  for (const pool of network.pools) {
    const range = rangeOf(pool, address)
    if (range !== undefined) return { address, pool, range }
  }
  return undefined
}

/** Which requested address belongs to which pool; an address in no pool is refused. */
const matchRequests = (
  network: Network,
  requested: ReadonlyArray<Ip>
): AddressOutsidePool | ReadonlyArray<Ip | undefined> => {
  const perPool: Array<Ip | undefined> = network.pools.map(() => undefined)
  for (const address of requested) {
    const index = network.pools.findIndex(
      (pool, i) => perPool[i] === undefined && subnetsOf(pool).some((s) => subnetContains(s, address))
    )
    if (index < 0) {
      return new AddressOutsidePool({
        address: formatIp(address),
        pools: network.pools.map(describePool).join("; ")
      })
    }
    perPool[index] = address
  }
  return perPool
}

/** Whether every address of the record still has our route. */
const stillHeld = (record: Attachment): Effect.Effect<boolean, RouteTableError, RouteTable> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    for (const address of record.addresses) {
      if (!(yield* table.routesTo(address)).some(isOurs)) return false
    }
    return true
  })

/** Every way a lifecycle step on the node's records can fail besides the claim itself. */
export type RecordsError = AttachmentsError | NodeLockTimeout

/** Write `record` stamped with this boot and the current time. */
const stamped = (
  record: Omit<Attachment, "boot" | "writtenAt">
): Effect.Effect<Attachment, AttachmentsError, Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    return { ...record, boot: yield* store.boot, writtenAt: yield* Clock.currentTimeMillis }
  })

const putStamped = (
  record: Omit<Attachment, "boot" | "writtenAt">
): Effect.Effect<void, AttachmentsError, Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    yield* store.put(yield* stamped(record))
  })

/** What a repeated ADD finds: the answer already given, or the addresses the owner keeps. */
type Previous = { readonly done: ReadonlyArray<Assigned> } | { readonly kept: ReadonlyArray<Ip> }

/** How an ADD reports and guards its claims. */
export interface AttachOptions {
  /** Hears every claim attempt's outcome (logs, simulations). */
  readonly observe?: (outcome: AttemptOutcome) => Effect.Effect<void>
  /** Ask the fabric before each insert and at each verdict; absent: partitions go unnoticed. */
  readonly fabric?: Effect.Effect<FabricReport, FabricHealthError>
}

/**
 * ADD: one address from every pool of the network, requested ones exactly.
 *
 * Every step that reads records, changes routes or writes records runs under the network's node
 * lock (never across W). The owner record names each candidate before its route is inserted (so a
 * crash leaves every route of ours explained) and a candidate that another record of this node
 * names is never inserted. A loss, a crash clean-up or a failed ADD releases only routes this ADD
 * inserted, through the release rule (Ownership.ts). A Won candidate is kept only if the record,
 * read again under the lock, still names it (a GC may have collected a record it did not know).
 *
 * A repeated ADD for an owner whose addresses are all still held returns them unchanged; on a
 * per-address network (the original plugin's CNI_ARGS interface) each ADD adds one address to
 * the owner's record and keeps the others.
 */
export const attach = (
  network: Network,
  owner: Owner,
  requested: ReadonlyArray<Ip>,
  options: AttachOptions = {}
): Effect.Effect<ReadonlyArray<Assigned>, ClaimError | RecordsError, RouteTable | Attachments> =>
  // the owner's lock for the whole ADD: a GC that planned from an older read of this record
  // re-decides after it (Collection.ts), so it never releases what this ADD has just confirmed
  withNodeLock(ownerLockName(network.name, owner), attachOwned(network, owner, requested, options))

const attachOwned = (
  network: Network,
  owner: Owner,
  requested: ReadonlyArray<Ip>,
  options: AttachOptions
): Effect.Effect<ReadonlyArray<Assigned>, ClaimError | RecordsError, RouteTable | Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const table = yield* RouteTable
    const key = keyFor(network, owner)
    // what every record this ADD writes starts with: the key, and the pod for operators
    const named = owner.pod === undefined ? key : { ...key, pod: owner.pod }
    const self = ownerKeyOf(key)
    const wanted = matchRequests(network, requested)
    if (wanted instanceof AddressOutsidePool) return yield* wanted
    // Each step on a candidate holds that address's node lock. Uninterruptible: when one pool
    // fails, the other pool's fiber is interrupted; a record write or release cut off midway could
    // land after the clean-up (a record resurrected, a temp file left).
    const lockedFor = <A, E, R>(address: Ip, effect: Effect.Effect<A, E, R>) =>
      Effect.uninterruptible(withNodeLock(addressLockName(network.name, address), effect))
    const unlocked = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.uninterruptible(effect)

    // What the owner keeps from before (a per-address network keeps every address it holds).
    const decide: Effect.Effect<Previous, RouteTableError | RecordsError, RouteTable | Attachments> =
      Effect.gen(function* () {
        const existing = yield* store.get(key)
        const boot = yield* store.boot
        if (existing === undefined || isStale(existing, boot)) return { kept: [] }
        if (network.perAddress === true) {
          const same =
            requested.length > 0 && requested.every((r) => existing.addresses.some((a) => equals(a, r)))
          if (same && existing.pending.length === 0 && (yield* stillHeld(existing))) {
            const assigned = requested.map((a) => assignedFrom(network, a))
            if (assigned.every((a) => a !== undefined)) return { done: assigned }
          }
          // a crashed earlier ADD of this owner may have left pending candidates: let them go
          yield* releaseOnBehalf(network.name, key, existing.pending)
          return { kept: existing.addresses }
        }
        const sameRequest = requested.every((r) => existing.addresses.some((a) => equals(a, r)))
        if (existing.pending.length === 0 && sameRequest && (yield* stillHeld(existing))) {
          const assigned = existing.addresses.map((a) => assignedFrom(network, a))
          if (assigned.every((a) => a !== undefined)) return { done: assigned }
        }
        yield* releaseOnBehalf(network.name, key, namedBy(existing))
        return { kept: [] }
      })
    // the owner's own record is guarded by the owner's lock, held for the whole ADD; releases take
    // their addresses' locks inside the release rule
    const previous: Previous =
      (yield* store.get(key)) === undefined
        ? { kept: [] }
        : yield* unlocked(
            Effect.gen(function* () {
              const decided = yield* decide
              if ("kept" in decided) yield* putStamped({ ...named, addresses: decided.kept, pending: [] })
              return decided
            })
          )
    if ("done" in previous) return previous.done
    const kept = previous.kept

    // Pools are claimed concurrently (dual stack costs one W, not two). The record lists what the
    // owner kept, each pool's confirmed address and each pool's current candidate.
    const confirmed: Array<Ip | undefined> = network.pools.map(() => undefined)
    const candidates: Array<Ip | undefined> = network.pools.map(() => undefined)
    const inserted = new Map<string, Ip>()
    const everything = () => ({
      ...named,
      addresses: [...kept, ...confirmed.filter((a) => a !== undefined)],
      pending: candidates.filter((a) => a !== undefined)
    })
    // one writer of the owner's record at a time: the pools' steps hold different address locks,
    // and two overlapping writes could land in the wrong order (a snapshot without the other
    // pool's candidate renamed last), leaving a route no record names
    const writes = yield* Semaphore.make(1)
    const write = writes.withPermits(1)(Effect.suspend(() => putStamped(everything())))

    const claimAll = Effect.forEach(
      network.pools,
      (pool, i) =>
        claimAddress(pool, wanted[i], network.policy, {
          insert: (candidate, insert) =>
            lockedFor(
              candidate,
              Effect.gen(function* () {
                const holdings = yield* readHoldings(network.name)
                if (heldByOther(holdings, candidate, self)) return false
                candidates[i] = candidate
                yield* write
                const ok = yield* insert
                if (ok) inserted.set(keyOf(candidate), candidate)
                else {
                  candidates[i] = undefined
                  yield* write
                }
                return ok
              })
            ),
          release: (candidate) =>
            unlocked(
              Effect.gen(function* () {
                yield* releaseOnBehalf(network.name, key, [candidate])
                inserted.delete(keyOf(candidate))
                candidates[i] = undefined
                yield* write
              })
            ),
          confirm: (candidate) =>
            lockedFor(
              candidate,
              Effect.gen(function* () {
                const record = yield* store.get(key)
                const boot = yield* store.boot
                const ours = (yield* table.routesTo(candidate)).some(isOurs)
                if (
                  record === undefined ||
                  isStale(record, boot) ||
                  !record.pending.some((a) => equals(a, candidate)) ||
                  !ours
                ) {
                  // collected under us: whatever of ours was left went with the record
                  inserted.delete(keyOf(candidate))
                  candidates[i] = undefined
                  return false
                }
                confirmed[i] = candidate
                candidates[i] = undefined
                yield* write
                return true
              })
            ),
          ...(options.fabric === undefined ? {} : { fabric: options.fabric }),
          ...(options.observe === undefined ? {} : { observe: options.observe })
        }),
      { concurrency: "unbounded" }
    ).pipe(Effect.map((addresses) => addresses.map((address) => assignedFrom(network, address)!)))

    // On failure: release only what this ADD inserted, through the release rule; keep what the
    // owner held before (per-address networks), forget the rest.
    const cleanUp = unlocked(
      Effect.gen(function* () {
        yield* releaseOnBehalf(network.name, key, [...inserted.values()])
        if (kept.length > 0) yield* putStamped({ ...named, addresses: kept, pending: [] })
        else yield* store.remove(key)
      })
    ).pipe(Effect.catch((e) => Effect.logWarning(`cleanup after failed ADD incomplete: ${e.message}`)))
    return yield* claimAll.pipe(Effect.onError(() => cleanUp))
  })

/**
 * DEL: release what the owner holds and forget it, under the owner's lock. Idempotent. Everything goes through the
 * release rule (each address under its node lock): an address is released only while this
 * owner's record names it and no other record does. Without a record nothing is released (a route no record explains
 * is GC's to collect, invariant 3); a record of another boot is forgotten without touching any
 * route (its routes died with that boot). On a per-address network, `only` (the CIDR address the
 * caller names) limits the release to those addresses; the record keeps the others.
 */
export const detach = (
  network: Network,
  owner: Owner,
  only: ReadonlyArray<Ip> = []
): Effect.Effect<void, RouteTableError | RecordsError, RouteTable | Attachments> =>
  withNodeLock(
    ownerLockName(network.name, owner),
    Effect.gen(function* () {
      const store = yield* Attachments
      const key = keyFor(network, owner)
      const record = yield* store.get(key)
      if (record === undefined) return
      if (isStale(record, yield* store.boot)) return yield* store.remove(key)
      const limited = network.perAddress === true && only.length > 0
      const chosen = (a: Ip) => !limited || only.some((o) => equals(o, a))
      const which = namedBy(record).filter(chosen)
      const { kept } = yield* releaseOnBehalf(network.name, key, which)
      const remaining = {
        ...key,
        ...(record.pod === undefined ? {} : { pod: record.pod }),
        addresses: record.addresses.filter((a) => !chosen(a)),
        pending: record.pending.filter((a) => !chosen(a))
      }
      if (kept.length > 0) {
        yield* Effect.logWarning(
          `DEL ${network.name} ${owner.containerId}/${owner.ifname}: kept ${kept.map(formatIp).join(", ")}: another record names ${kept.length === 1 ? "it" : "them"}`
        )
      }
      if (remaining.addresses.length === 0 && remaining.pending.length === 0) yield* store.remove(key)
      else yield* putStamped(remaining)
    })
  ).pipe(Effect.uninterruptible)

/**
 * CHECK: the owner must be known, hold every expected address, and each must have our route
 * with no competing route.
 */
export const checkAttachment = (
  network: Network,
  owner: Owner,
  expected: ReadonlyArray<Ip>
): Effect.Effect<
  void,
  AttachmentUnknown | AttachmentInvalid | RouteTableError | AttachmentsError,
  RouteTable | Attachments
> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const table = yield* RouteTable
    const record = yield* store.get(keyFor(network, owner))
    if (record === undefined || isStale(record, yield* store.boot)) return yield* new AttachmentUnknown(owner)
    const invalid = (reason: string) => new AttachmentInvalid({ ...owner, reason })
    if (record.pending.length > 0) return yield* invalid("an allocation for it never completed")
    for (const address of expected) {
      if (!record.addresses.some((a) => equals(a, address))) {
        return yield* invalid(`${formatIp(address)} is not recorded for this attachment`)
      }
    }
    for (const address of record.addresses) {
      const routes = yield* table.routesTo(address)
      if (!routes.some(isOurs)) return yield* invalid(`our route to ${formatIp(address)} is missing`)
      const other = routes.find((r) => !isOurs(r))
      if (other !== undefined) {
        const via = other.nextHop === undefined ? "" : ` via ${formatIp(other.nextHop)}`
        return yield* invalid(`${formatIp(address)} also has a route with protocol ${other.protocol}${via}`)
      }
    }
  })

/** Whether a pool can serve another ADD right now. */
export interface PoolStatus {
  readonly pool: Pool
  readonly exhausted: boolean
}

/** STATUS: for each pool, whether the table shows a free address (cheap probes, then one read). */
export const poolStatus = (
  network: Network
): Effect.Effect<ReadonlyArray<PoolStatus>, RouteTableError, RouteTable> =>
  Effect.forEach(network.pools, (pool) =>
    makePicker(pool, network.policy.probes).pick.pipe(
      Effect.as({ pool, exhausted: false }),
      Effect.catchTag("PoolExhausted", () => Effect.succeed({ pool, exhausted: true }))
    )
  )
