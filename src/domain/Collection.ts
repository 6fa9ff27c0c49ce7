// Garbage collection of one network on this node: one pure plan, used by CNI GC and the operator's gc alike.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Attachment } from "./Attachments.ts"
import { Attachments } from "./Attachments.ts"
import { formatIp, type Ip, keyOf } from "./Ip.ts"
import type { Network } from "./Network.ts"
import { ownerLockName, withNodeLock } from "./NodeLock.ts"
import {
  type Holdings,
  isNamed,
  isStale,
  namedBy,
  ownerKeyOf,
  readHoldings,
  releaseOnBehalf,
  releaseOrphans
} from "./Ownership.ts"
import { rangeOf, subnetsOf } from "./Pool.ts"
import { isOurs, type Route } from "./Route.ts"
import { RouteTable } from "./RouteTable.ts"

/** Container and interface of an attachment. */
export interface OwnerRef {
  readonly containerId: string
  readonly ifname: string
}

/** What to collect. */
export interface CollectionRequest {
  /**
   * CNI GC (`cni.dev/valid-attachments`) or `gc --keep`: exactly these owners are valid and every
   * other record is released. Undefined: keep every complete record of this boot (plain `gc`).
   */
  readonly valid?: ReadonlyArray<OwnerRef>
  /** Records written within this many ms are kept although they would go: an ADD may be in flight. */
  readonly graceMillis: number
  /** Plan only; change nothing. */
  readonly dryRun?: boolean
}

/** What a collection releases, forgets and keeps. */
export interface CollectionPlan {
  /** Records released with every address they name (through the release rule). */
  readonly release: ReadonlyArray<Attachment>
  /** Records removed without touching a route: of another boot (their routes died with it), or empty. */
  readonly forget: ReadonlyArray<Attachment>
  /** Routes of ours inside the network's ranges that no record (live or quarantined) names. */
  readonly orphans: ReadonlyArray<Ip>
  /** Owners kept. */
  readonly kept: ReadonlyArray<OwnerRef>
  /** Owners kept only because their record is younger than the grace period. */
  readonly recent: ReadonlyArray<OwnerRef>
}

const ownerOf = (record: Attachment): OwnerRef => ({ containerId: record.containerId, ifname: record.ifname })

/** What a collection does with one record. */
export type RecordFate = "keep" | "recent" | "release" | "forget"

const validOwners = (request: CollectionRequest): ReadonlySet<string> | undefined =>
  request.valid === undefined ? undefined : new Set(request.valid.map(ownerKeyOf))

/**
 * One record's fate. Pure. A record of another boot is forgotten; a listed one (plain gc: a
 * complete one) is kept; one younger than the grace period is kept as recent; an empty one is
 * forgotten; any other is released.
 */
export const fateOf = (
  record: Attachment,
  valid: ReadonlySet<string> | undefined,
  request: CollectionRequest,
  now: number,
  boot: string
): RecordFate => {
  if (isStale(record, boot)) return "forget"
  const empty = record.addresses.length === 0 && record.pending.length === 0
  const listed = valid === undefined ? record.pending.length === 0 && !empty : valid.has(ownerKeyOf(record))
  if (listed) return "keep"
  if (record.writtenAt !== undefined && now - record.writtenAt < request.graceMillis) return "recent"
  return empty ? "forget" : "release"
}

/**
 * The plan, from records and routes read under one hold of the node lock. Pure.
 * Only complete records of this boot survive a plain gc; an empty or pending record (a crashed
 * ADD) goes once it is older than the grace period; a record of another boot is forgotten.
 */
export const planCollection = (
  network: Network,
  holdings: Holdings,
  routes: ReadonlyArray<Route>,
  request: CollectionRequest,
  now: number
): CollectionPlan => {
  const valid = validOwners(request)
  const release: Array<Attachment> = []
  const forget: Array<Attachment> = [...holdings.stale]
  const kept: Array<OwnerRef> = []
  const recent: Array<OwnerRef> = []
  for (const record of holdings.live) {
    const fate = fateOf(record, valid, request, now, holdings.boot)
    if (fate === "keep") kept.push(ownerOf(record))
    else if (fate === "recent") {
      kept.push(ownerOf(record))
      recent.push(ownerOf(record))
    } else if (fate === "forget") forget.push(record)
    else release.push(record)
  }
  const seen = new Set<string>()
  const orphans: Array<Ip> = []
  for (const route of routes) {
    const key = keyOf(route.host)
    if (!isOurs(route) || seen.has(key) || isNamed(holdings, route.host)) continue
    if (!network.pools.some((pool) => rangeOf(pool, route.host) !== undefined)) continue
    seen.add(key)
    orphans.push(route.host)
  }
  return { release, forget, orphans, kept, recent }
}

/** What a collection did. */
export interface GcReport {
  readonly plan: CollectionPlan
  /** Records released (their routes released through the release rule) and removed. */
  readonly releasedAttachments: ReadonlyArray<Attachment>
  /** Records removed without touching a route. */
  readonly forgotten: ReadonlyArray<Attachment>
  readonly releasedRoutes: ReadonlyArray<Ip>
  readonly errors: ReadonlyArray<string>
}

/**
 * GC of one network on this node: read the records and the routes, plan, then act on each planned
 * record under its owner's lock, deciding its fate again from the record read anew (an ADD that
 * confirmed its record since the plan keeps it), and release each orphan; every address under its
 * own node lock with the records read again under it.
 * Keeps going on errors and reports them.
 */
export const collectGarbage = (network: Network, request: CollectionRequest) =>
  Effect.suspend(() =>
    Effect.gen(function* () {
      const store = yield* Attachments
      const table = yield* RouteTable
      const errors: Array<string> = []
      const holdings = yield* readHoldings(network.name)
      const routes: Array<Route> = []
      for (const subnet of network.pools.flatMap(subnetsOf)) {
        const found = yield* table
          .hostRoutesIn(subnet)
          .pipe(Effect.catch((e) => Effect.sync(() => errors.push(e.message)).pipe(Effect.as([]))))
        routes.push(...found)
      }
      const plan = planCollection(network, holdings, routes, request, yield* Clock.currentTimeMillis)
      if (request.dryRun === true || errors.length > 0) {
        return { plan, releasedAttachments: [], forgotten: [], releasedRoutes: [], errors }
      }
      const releasedAttachments: Array<Attachment> = []
      const forgotten: Array<Attachment> = []
      const failed = (record: Attachment) => (e: { readonly message: string }) =>
        Effect.sync(() => errors.push(`${record.containerId}/${record.ifname}: ${e.message}`)).pipe(
          Effect.as(undefined)
        )
      const valid = validOwners(request)
      // The plan may be older than the record: an ADD may have confirmed it, or a DEL removed it,
      // since it was read. So each planned record is read again under its owner's lock (which an
      // ADD or DEL of that owner holds while it runs) and its fate decided again from what it says
      // now; only then are its addresses released (through the release rule) and the record removed.
      const redecided = (planned: Attachment) =>
        withNodeLock(
          ownerLockName(network.name, planned),
          Effect.gen(function* () {
            const record = yield* store.get(planned)
            if (record === undefined) return undefined
            const fate = fateOf(record, valid, request, yield* Clock.currentTimeMillis, yield* store.boot)
            if (fate === "release") {
              yield* releaseOnBehalf(network.name, record, namedBy(record))
            } else if (fate !== "forget") return undefined
            yield* store.remove(record)
            return { fate, record }
          })
        ).pipe(Effect.uninterruptible)
      for (const planned of [...plan.release, ...plan.forget]) {
        const done = yield* redecided(planned).pipe(Effect.catch(failed(planned)))
        if (done === undefined) continue
        if (done.fate === "release") releasedAttachments.push(done.record)
        else forgotten.push(done.record)
      }
      const releasedRoutes = yield* releaseOrphans(network.name, plan.orphans).pipe(
        Effect.catch((e) =>
          Effect.sync(() => errors.push(e.message)).pipe(Effect.as([] as ReadonlyArray<Ip>))
        )
      )
      return { plan, releasedAttachments, forgotten, releasedRoutes, errors } satisfies GcReport
    })
  )

/** One line per released address, for logs. */
export const describeReport = (report: GcReport): string =>
  `released ${report.releasedAttachments.length} attachments (` +
  report.releasedAttachments.map((r) => `${r.containerId}/${r.ifname}`).join(", ") +
  `), forgot ${report.forgotten.length} records, released ${report.releasedRoutes.length} unexplained routes (` +
  report.releasedRoutes.map(formatIp).join(", ") +
  ")"
