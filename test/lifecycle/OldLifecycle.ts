// NEGATIVE CONTROL ONLY: the release rules as they were before issue 8 (verbatim but for the claim hook), so the lifecycle suite can show it finds their bugs.
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { AddressOutsidePool } from "../../src/domain/AllocationError.ts"
import {
  type Attachment,
  type AttachmentKey,
  Attachments,
  type AttachmentsError
} from "../../src/domain/Attachments.ts"
import { type AttemptOutcome, type ClaimError, claimAddress } from "../../src/domain/Claim.ts"
import { contains as subnetContains, equals, formatIp, type Ip, keyOf } from "../../src/domain/Ip.ts"
import type { Network } from "../../src/domain/Network.ts"
import { describePool, type Pool, type Range, rangeOf, subnetsOf } from "../../src/domain/Pool.ts"
import { isOurs } from "../../src/domain/Route.ts"
import { RouteTable, type RouteTableError } from "../../src/domain/RouteTable.ts"
import type { FabricHealthError, FabricReport } from "../../src/domain/FabricHealth.ts"

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

/** Release every address an owner record mentions (confirmed or pending). */
const releaseRecord = (record: Attachment): Effect.Effect<void, RouteTableError, RouteTable> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    for (const address of [...record.addresses, ...record.pending]) yield* table.release(address)
  })

/** Whether every address of the record still has our route. */
const stillHeld = (record: Attachment): Effect.Effect<boolean, RouteTableError, RouteTable> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    for (const address of record.addresses) {
      if (!(yield* table.routesTo(address)).some(isOurs)) return false
    }
    return true
  })

/**
 * ADD: one address from every pool of the network, requested ones exactly. The owner record is
 * written before each claim (pending) and confirmed after, so a crash leaves every route explained.
 * A repeated ADD for an owner whose addresses are all still held returns them unchanged.
 * On any failure everything claimed so far is released and the record removed.
 * `observe` hears every claim attempt's outcome (for logs and simulations).
 */
export const attach = (
  network: Network,
  owner: Owner,
  requested: ReadonlyArray<Ip>,
  observe?: (outcome: AttemptOutcome) => Effect.Effect<void>,
  fabric?: Effect.Effect<FabricReport, FabricHealthError>
): Effect.Effect<ReadonlyArray<Assigned>, ClaimError | AttachmentsError, RouteTable | Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const key = keyFor(network, owner)
    const wanted = matchRequests(network, requested)
    if (wanted instanceof AddressOutsidePool) return yield* wanted
    const existing = yield* store.get(key)
    if (existing !== undefined) {
      const sameRequest = requested.every((r) => existing.addresses.some((a) => equals(a, r)))
      if (existing.pending.length === 0 && sameRequest && (yield* stillHeld(existing))) {
        const assigned = existing.addresses.map((a) => assignedFrom(network, a))
        if (assigned.every((a) => a !== undefined)) return assigned
      }
      yield* releaseRecord(existing)
    }
    // Pools are claimed concurrently (dual stack costs one W, not two). The record always lists
    // each pool's confirmed address or its current candidate; writes are serialised.
    const confirmed: Array<Ip | undefined> = network.pools.map(() => undefined)
    const candidates: Array<Ip | undefined> = network.pools.map(() => undefined)
    const everything = (): Attachment => ({
      ...key,
      addresses: confirmed.filter((a) => a !== undefined),
      pending: candidates.filter((a) => a !== undefined)
    })
    const writes = yield* Semaphore.make(1)
    const write = Effect.suspend(() => store.put(everything())).pipe(writes.withPermits(1))
    yield* write
    const claimAll = Effect.forEach(
      network.pools,
      (pool, i) =>
        claimAddress(pool, wanted[i], network.policy, {
          insert: (candidate, insert) => {
            candidates[i] = candidate
            return Effect.andThen(write, insert)
          },
          ...(observe === undefined ? {} : { observe }),
          ...(fabric === undefined ? {} : { fabric })
        }).pipe(
          Effect.tap((address) =>
            Effect.sync(() => {
              confirmed[i] = address
              candidates[i] = undefined
            })
          )
        ),
      { concurrency: "unbounded" }
    ).pipe(
      Effect.tap(() => write),
      Effect.map((addresses) => addresses.map((address) => assignedFrom(network, address)!))
    )
    return yield* claimAll.pipe(
      Effect.onError(() =>
        releaseRecord(everything()).pipe(
          Effect.andThen(store.remove(key)),
          Effect.catch((e) => Effect.logWarning(`cleanup after failed ADD incomplete: ${e.message}`))
        )
      )
    )
  })

/**
 * DEL: release what the owner holds and forget it. Idempotent. Without a record, `hint`
 * (the runtime's prevResult) is released, but only addresses of this network that no other
 * owner record claims.
 */
export const detach = (
  network: Network,
  owner: Owner,
  hint: ReadonlyArray<Ip>
): Effect.Effect<void, RouteTableError | AttachmentsError, RouteTable | Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const table = yield* RouteTable
    const key = keyFor(network, owner)
    const record = yield* store.get(key)
    if (record !== undefined) {
      yield* releaseRecord(record)
      return yield* store.remove(key)
    }
    if (hint.length === 0) return
    const others = yield* store.list(network.name)
    const held = new Set(others.flatMap((r) => [...r.addresses, ...r.pending].map(keyOf)))
    for (const address of hint) {
      if (assignedFrom(network, address) !== undefined && !held.has(keyOf(address)))
        yield* table.release(address)
    }
  })

/** What garbage collection did. */
export interface GcReport {
  readonly releasedAttachments: ReadonlyArray<Owner>
  readonly releasedRoutes: ReadonlyArray<Ip>
  readonly errors: ReadonlyArray<string>
}

/**
 * GC: release every owner of this network not in `valid`, then every route of ours inside the
 * network's ranges that no remaining owner explains. Keeps going on errors and reports them.
 */
export const collectGarbage = (
  network: Network,
  valid: ReadonlyArray<Owner>
): Effect.Effect<GcReport, AttachmentsError, RouteTable | Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const table = yield* RouteTable
    const keep = new Set(valid.map((o) => `${o.containerId}\u0000${o.ifname}`))
    const releasedAttachments: Array<Owner> = []
    const releasedRoutes: Array<Ip> = []
    const errors: Array<string> = []
    const held = new Set<string>()
    for (const record of yield* store.list(network.name)) {
      const owner = { containerId: record.containerId, ifname: record.ifname }
      if (keep.has(`${owner.containerId}\u0000${owner.ifname}`)) {
        for (const a of [...record.addresses, ...record.pending]) held.add(keyOf(a))
        continue
      }
      const done = yield* releaseRecord(record).pipe(
        Effect.andThen(store.remove(record)),
        Effect.as(true),
        Effect.catch((e) =>
          Effect.sync(() => errors.push(`${owner.containerId}/${owner.ifname}: ${e.message}`)).pipe(
            Effect.as(false)
          )
        )
      )
      if (done) releasedAttachments.push(owner)
    }
    for (const pool of network.pools) {
      for (const subnet of subnetsOf(pool)) {
        const routes = yield* table
          .hostRoutesIn(subnet)
          .pipe(Effect.catch((e) => Effect.sync(() => errors.push(e.message)).pipe(Effect.as([]))))
        for (const route of routes) {
          if (!isOurs(route) || held.has(keyOf(route.host)) || rangeOf(pool, route.host) === undefined)
            continue
          yield* table.release(route.host).pipe(
            Effect.andThen(Effect.sync(() => releasedRoutes.push(route.host))),
            Effect.catch((e) => Effect.sync(() => errors.push(e.message)))
          )
        }
      }
    }
    return { releasedAttachments, releasedRoutes, errors }
  })
