// The simulated fabric: N nodes whose claims and releases reach each other after per-message delays, computed lazily.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Cidr, contains, type Family, formatIp, type Ip, ip } from "../../domain/Ip.ts"
import type { Route } from "../../domain/Route.ts"
import { FabricHealth } from "../../domain/FabricHealth.ts"
import { HostTaken, RouteTable } from "../../domain/RouteTable.ts"
import { type DelayDistribution, maxDelayOf, sampleDelay } from "./DelayDistribution.ts"
import { uniform } from "./SeededHash.ts"

/** A node's announcements that would arrive during [from, to) are held and delivered at `to`. */
export interface Outage {
  readonly node: number
  readonly from: number
  readonly to: number
}

/** `observer` never sees `origin`'s routes (as with BGP without ADD-PATH, where one side sees one path). */
export interface HiddenPair {
  readonly observer: number
  readonly origin: number
}

/**
 * The BGP session between nodes `a` and `b` is down during [from, to): each withdraws the other's
 * routes at once (as BIRD does on an administrative cease, a hold-timer expiry or a link down) and
 * learns the other's current routes again a per-message delay after `to`. Both nodes' fabric
 * health reports unhealthy during the drop, and their epoch changes at `from` and at `to`.
 */
export interface SessionDrop {
  readonly a: number
  readonly b: number
  readonly from: number
  readonly to: number
}

/** How the fabric behaves. Node indexes run from 0 to nodes - 1. */
export interface FabricConfig {
  readonly nodes: number
  readonly delay: DelayDistribution
  /** Seed of the per-message delays (a 32-bit integer). */
  readonly seed: number
  readonly outages?: ReadonlyArray<Outage>
  readonly hidden?: ReadonlyArray<HiddenPair>
  readonly drops?: ReadonlyArray<SessionDrop>
}

/** One claim or release by one node: what other nodes learn, each after its own delay. */
interface Announcement {
  readonly origin: number
  readonly claimed: boolean
  /** Simulated time it was made, ms. */
  readonly at: number
  /** Global order: later announcements of the same origin supersede earlier ones (versioning). */
  readonly seq: number
}

/** Route protocol, table and metric of a node's own claims (as the memory and netlink adapters). */
export const ownRoute = { protocol: 192, table: 254, metric: 4096 } as const
/** How a route learned from a peer looks: BIRD's protocol number and metric. */
export const learnedRoute = { protocol: 12, table: 254, metric: 32 } as const

/** The address of node `index` in the family asked for: 198.18.0.0 + index + 1, or fd00:198:18:: + index + 1. */
export const nodeAddress = (index: number, family: Family = 4): Ip =>
  family === 4
    ? ip(4, 0xc6120000n + BigInt(index) + 1n)
    : ip(6, 0xfd000198001800000000000000000000n + BigInt(index) + 1n)

/** The node index whose address this is (inverse of `nodeAddress`), or undefined. */
export const nodeIndexOf = (address: Ip): number | undefined => {
  const index = address.value - nodeAddress(0, address.family).value
  return index >= 0n && index < 1n << 31n ? Number(index) : undefined
}

/** The simulated fabric: every node's view of the routes, plus counters for reports. */
export interface Fabric {
  readonly config: FabricConfig
  /** The RouteTable port as node `index` sees it. Reads the time from Effect's Clock. */
  readonly routeTableOf: (index: number) => RouteTable["Service"]
  /** Every route node `index` sees at simulated time `now`, sorted by address. */
  readonly viewOf: (index: number, now: number) => ReadonlyArray<Route>
  /** Every (address, node) where the node has a route of its own now (its own table, no delay). */
  readonly ownRoutes: () => ReadonlyArray<{ readonly host: Ip; readonly node: number }>
  /** Call `f` with every (address, origin node) node `index` sees at `now`, in no particular order. */
  readonly forEachVisible: (index: number, now: number, f: (host: Ip, origin: number) => void) => void
  /** Claims and releases made so far. */
  readonly announcements: () => number
  /** When every announcement made so far has reached every node that can see it. */
  readonly settledAt: () => number
  /** Node `index`'s fabric health (session drops, SessionDrop), reading the time from Effect's Clock. */
  readonly healthOf: (index: number) => FabricHealth["Service"]
}

/**
 * Build a fabric. Visibility is computed when a node looks: per address the fabric keeps the
 * announcements of each origin, and the delay of (announcement, observer) is a seeded hash, so a
 * look costs O(announcements on that address) and no message is ever queued.
 */
export const makeFabric = (config: FabricConfig): Fabric => {
  const { nodes, delay, seed } = config
  const maxDelay = maxDelayOf(delay)
  const records = new Map<string, { readonly host: Ip; list: Array<Announcement> }>()
  const hidden = new Set((config.hidden ?? []).map((h) => h.observer * nodes + h.origin))
  const outagesOf = new Map<number, Array<Outage>>()
  for (const outage of config.outages ?? []) {
    const list = outagesOf.get(outage.node) ?? []
    list.push(outage)
    list.sort((a, b) => a.from - b.from)
    outagesOf.set(outage.node, list)
  }
  let seq = 0
  let settled = 0
  const drops = config.drops ?? []
  const pairKey = (x: number, y: number) => (x < y ? x * nodes + y : y * nodes + x)
  const dropsOf = new Map<number, Array<SessionDrop>>()
  for (const drop of drops) {
    const key = pairKey(drop.a, drop.b)
    const list = dropsOf.get(key) ?? []
    list.push(drop)
    dropsOf.set(key, list)
  }
  /** The latest end of a drop of `origin`'s sessions: nothing of it settles before that (+ max delay). */
  const lastDropEnd = new Map<number, number>()
  for (const drop of drops) {
    for (const node of [drop.a, drop.b]) lastDropEnd.set(node, Math.max(lastDropEnd.get(node) ?? 0, drop.to))
  }
  /**
   * Whether `observer` cannot see `origin`'s routes at `now` because of a session drop: during it,
   * and after it until the resync (a per-message delay after its end) brings them back.
   */
  const blocked = (observer: number, origin: number, now: number): boolean => {
    const list = dropsOf.get(pairKey(observer, origin))
    if (list === undefined) return false
    for (const [i, drop] of list.entries()) {
      if (now < drop.from) continue
      if (now < drop.to) return true
      const resync = sampleDelay(
        delay,
        uniform(seed, 0x5e55 + i, observer * nodes + origin, 3),
        uniform(seed, 0x5e55 + i, observer * nodes + origin, 4)
      )
      if (now < drop.to + resync) return true
    }
    return false
  }

  const held = (origin: number, arrival: number): number => {
    const outages = outagesOf.get(origin)
    if (outages === undefined) return arrival
    let at = arrival
    for (const o of outages) if (at >= o.from && at < o.to) at = o.to
    return at
  }
  const arrivalAt = (a: Announcement, observer: number): number =>
    held(
      a.origin,
      a.at + sampleDelay(delay, uniform(seed, a.seq, observer, 1), uniform(seed, a.seq, observer, 2))
    )
  const settleOf = (a: Announcement): number => {
    const end = lastDropEnd.get(a.origin)
    const plain = held(a.origin, a.at + maxDelay)
    return end === undefined ? plain : Math.max(plain, end + maxDelay)
  }

  const keyOf = (host: Ip) => (host.family === 4 ? host.value.toString() : `6:${host.value}`)

  /** The latest announcement of `origin` on this address, regardless of delays. */
  const latestOf = (list: ReadonlyArray<Announcement>, origin: number): Announcement | undefined => {
    let best: Announcement | undefined
    for (const a of list) if (a.origin === origin && (best === undefined || a.seq > best.seq)) best = a
    return best
  }

  const arrived = (a: Announcement, observer: number, now: number): boolean =>
    a.origin === observer ||
    (!hidden.has(observer * nodes + a.origin) &&
      !blocked(observer, a.origin, now) &&
      (settleOf(a) <= now || arrivalAt(a, observer) <= now))

  /** Origins whose route `observer` sees at `now`: the newest announcement that has arrived decides. */
  const visibleOrigins = (
    list: ReadonlyArray<Announcement>,
    observer: number,
    now: number
  ): Array<number> => {
    if (list.length === 1) {
      const only = list[0]!
      return only.claimed && arrived(only, observer, now) ? [only.origin] : []
    }
    const newest = new Map<number, Announcement>()
    for (const a of list) {
      if (!arrived(a, observer, now)) continue
      const seen = newest.get(a.origin)
      if (seen === undefined || a.seq > seen.seq) newest.set(a.origin, a)
    }
    const origins: Array<number> = []
    for (const [origin, a] of newest) if (a.claimed) origins.push(origin)
    return origins.sort((x, y) => (x === observer ? -1 : y === observer ? 1 : x - y))
  }

  const addresses4: Array<Ip | undefined> = []
  const addresses6: Array<Ip | undefined> = []
  const addressOf = (index: number, family: Family): Ip => {
    const cache = family === 4 ? addresses4 : addresses6
    const cached = cache[index]
    if (cached !== undefined) return cached
    const made = nodeAddress(index, family)
    cache[index] = made
    return made
  }

  const routeFrom = (host: Ip, origin: number, observer: number): Route =>
    origin === observer
      ? { host, origin: "ours", ...ownRoute }
      : { host, origin: "other", ...learnedRoute, nextHop: addressOf(origin, host.family) }

  const routesAt = (host: Ip, observer: number, now: number): Array<Route> => {
    const record = records.get(keyOf(host))
    if (record === undefined) return []
    return visibleOrigins(record.list, observer, now).map((origin) => routeFrom(host, origin, observer))
  }

  /** Drop what no node can ever see again: announcements superseded by a newer one that reached everyone. */
  const prune = (list: Array<Announcement>, origin: number, now: number): Array<Announcement> => {
    let cut: Announcement | undefined
    for (const a of list) {
      if (a.origin === origin && settleOf(a) <= now && (cut === undefined || a.seq > cut.seq)) cut = a
    }
    if (cut === undefined) return list
    const latest = latestOf(list, origin)!
    const dropCut = cut === latest && !cut.claimed
    return list.filter((a) => a.origin !== origin || a.seq > cut.seq || (a === cut && !dropCut))
  }

  const announce = (host: Ip, origin: number, claimed: boolean, now: number): void => {
    const key = keyOf(host)
    let record = records.get(key)
    if (record === undefined) {
      record = { host, list: [] }
      records.set(key, record)
    }
    record.list = prune(record.list, origin, now)
    const a: Announcement = { origin, claimed, at: now, seq: seq++ }
    record.list.push(a)
    settled = Math.max(settled, settleOf(a))
  }

  const ownsNow = (host: Ip, origin: number): boolean => {
    const record = records.get(keyOf(host))
    return record !== undefined && latestOf(record.list, origin)?.claimed === true
  }

  const hostRoutesAt = (prefix: Cidr, observer: number, now: number): Array<Route> => {
    const found: Array<Route> = []
    for (const record of records.values()) {
      if (!contains(prefix, record.host)) continue
      for (const origin of visibleOrigins(record.list, observer, now)) {
        found.push(routeFrom(record.host, origin, observer))
      }
    }
    return found.sort((a, b) => (a.host.value < b.host.value ? -1 : a.host.value > b.host.value ? 1 : 0))
  }

  const routeTableOf = (index: number): RouteTable["Service"] =>
    RouteTable.of({
      routesTo: (host) => Effect.map(Clock.currentTimeMillis, (now) => routesAt(host, index, now)),
      isTaken: (host) => Effect.map(Clock.currentTimeMillis, (now) => routesAt(host, index, now).length > 0),
      hostRoutesIn: (prefix) =>
        Effect.map(Clock.currentTimeMillis, (now) => hostRoutesAt(prefix, index, now)),
      claim: (host) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (ownsNow(host, index)) return Effect.fail(new HostTaken({ host: formatIp(host) }))
          announce(host, index, true, now)
          return Effect.void
        }),
      release: (host) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (ownsNow(host, index)) announce(host, index, false, now)
        }),
      sourceTowards: (peer) => Effect.sync(() => addressOf(index, peer.family))
    })

  const forEachVisible = (index: number, now: number, f: (host: Ip, origin: number) => void): void => {
    for (const record of records.values()) {
      for (const origin of visibleOrigins(record.list, index, now)) f(record.host, origin)
    }
  }

  const viewOf = (index: number, now: number): ReadonlyArray<Route> => {
    const found: Array<Route> = []
    for (const record of records.values()) {
      for (const origin of visibleOrigins(record.list, index, now))
        found.push(routeFrom(record.host, origin, index))
    }
    return found.sort((a, b) =>
      a.host.family !== b.host.family
        ? a.host.family - b.host.family
        : a.host.value < b.host.value
          ? -1
          : a.host.value > b.host.value
            ? 1
            : 0
    )
  }

  const ownRoutes = (): ReadonlyArray<{ readonly host: Ip; readonly node: number }> => {
    const owned: Array<{ readonly host: Ip; readonly node: number }> = []
    for (const record of records.values()) {
      const latest = new Map<number, Announcement>()
      for (const a of record.list) {
        const seen = latest.get(a.origin)
        if (seen === undefined || a.seq > seen.seq) latest.set(a.origin, a)
      }
      for (const [node, a] of latest) if (a.claimed) owned.push({ host: record.host, node })
    }
    return owned
  }

  const healthOf = (index: number): FabricHealth["Service"] => {
    const mine = drops.filter((d) => d.a === index || d.b === index)
    return FabricHealth.of({
      check: Effect.map(Clock.currentTimeMillis, (now) => {
        const down = mine.filter((d) => d.from <= now && now < d.to).length
        const boundaries = mine.reduce((n, d) => n + (d.from <= now ? 1 : 0) + (d.to <= now ? 1 : 0), 0)
        const sessions = nodes - 1
        return {
          healthy: down === 0,
          established: sessions - down,
          required: sessions,
          detail: `${sessions - down} of ${sessions} sessions established (simulated)`,
          epoch: String(boundaries)
        }
      })
    })
  }

  return {
    config,
    healthOf,
    routeTableOf,
    viewOf,
    forEachVisible,
    ownRoutes,
    announcements: () => seq,
    settledAt: () => settled
  }
}

/** Node `index`'s view of the fabric as the RouteTable port, for programs that take a Layer. */
export const nodeLayer = (fabric: Fabric, index: number): Layer.Layer<RouteTable> =>
  Layer.succeed(RouteTable, fabric.routeTableOf(index))
