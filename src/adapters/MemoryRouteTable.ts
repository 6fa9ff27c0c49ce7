// One node's routing table in memory: the RouteTable port for unit tests and embedding applications.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type Cidr, compare, contains, equals, formatIp, type Ip, keyOf } from "../domain/Ip.ts"
import { isLegacy, type LegacyRoutes } from "../domain/LegacyRoute.ts"
import type { Route } from "../domain/Route.ts"
import { HostTaken, RouteTable } from "../domain/RouteTable.ts"

/** How this table's own claims look; defaults match the netlink adapter's. */
export interface Options {
  /** Route protocol of our claims (default 192). */
  readonly protocol?: number
  /** Table of our claims (default 254, main). */
  readonly table?: number
  /** Metric of our claims (default 4096). */
  readonly metric?: number
  /** This node's address(es): `sourceTowards` returns the first of the peer's family. */
  readonly nodeAddress?: Ip | ReadonlyArray<Ip>
}

/** A route put into the table by someone else than `claim`: by default a routing daemon's (protocol 12, metric 32). */
export interface RouteInput {
  readonly host: Ip
  /** The node that claimed the address. */
  readonly nextHop?: Ip
  /** Default 12 (BIRD's kernel protocol number). */
  readonly protocol?: number
  /** Default: this table's. */
  readonly table?: number
  /** Default 32 (BIRD's kernel metric in the lab). */
  readonly metric?: number
  readonly device?: number
}

/** Direct access to a memory table, for tests and simulations: seed routes, remove them, look at them. */
export interface Control {
  /**
   * Add a route. It counts as ours when its protocol and table are ours (like a leftover of an
   * earlier run) and its metric, when given, is ours too; otherwise as other (so a route with the
   * Go plugin's metric is a legacy route, as in the kernel). Adding an identical route again changes nothing.
   * Gotcha: unlike `claim`, this never fails, even when the kernel would answer EEXIST.
   */
  addOther(route: RouteInput): Effect.Effect<void>
  /** Remove the routes to `host` that satisfy `predicate` (default: all); returns how many went. */
  remove(host: Ip, predicate?: (route: Route) => boolean): Effect.Effect<number>
  /** Every route in the table, sorted by address (ours before others at the same address). */
  readonly snapshot: Effect.Effect<ReadonlyArray<Route>>
}

/** The `Control` of the memory table built by `layerWithControl`. */
export class MemoryRouteTableControl extends Context.Service<MemoryRouteTableControl, Control>()(
  "routetable-ipam/MemoryRouteTableControl"
) {}

type Routes = HashMap.HashMap<string, ReadonlyArray<Route>>

const byAddressThenOrigin = (a: Route, b: Route): number =>
  compare(a.host, b.host) || (a.origin === b.origin ? 0 : a.origin === "ours" ? -1 : 1)

const sameRoute = (a: Route, b: Route): boolean =>
  equals(a.host, b.host) &&
  a.protocol === b.protocol &&
  a.table === b.table &&
  a.metric === b.metric &&
  a.device === b.device &&
  (a.nextHop === undefined
    ? b.nextHop === undefined
    : b.nextHop !== undefined && equals(a.nextHop, b.nextHop))

/** Build a fresh, empty table and its control. */
export const make = (
  options: Options = {}
): Effect.Effect<
  { readonly table: RouteTable["Service"]; readonly legacy: LegacyRoutes["Service"] } & Control
> =>
  Effect.gen(function* () {
    const protocol = options.protocol ?? 192
    const table = options.table ?? 254
    const metric = options.metric ?? 4096
    const nodeAddresses: ReadonlyArray<Ip> =
      options.nodeAddress === undefined
        ? []
        : "family" in options.nodeAddress
          ? [options.nodeAddress]
          : options.nodeAddress
    const routes = yield* Ref.make<Routes>(HashMap.empty())

    const routesOf = (map: Routes, host: Ip): ReadonlyArray<Route> =>
      Option.getOrElse(HashMap.get(map, keyOf(host)), () => [])
    const isOurs = (route: { readonly protocol: number; readonly table: number }) =>
      route.protocol === protocol && route.table === table

    const routeTable = RouteTable.of({
      routesTo: (host) => Effect.map(Ref.get(routes), (map) => routesOf(map, host)),
      isTaken: (host) => Effect.map(Ref.get(routes), (map) => HashMap.has(map, keyOf(host))),
      hostRoutesIn: (prefix: Cidr) =>
        Effect.map(Ref.get(routes), (map) => {
          const found: Array<Route> = []
          for (const list of HashMap.values(map)) {
            if (contains(prefix, list[0]!.host)) found.push(...list)
          }
          return found.sort(byAddressThenOrigin)
        }),
      claim: (host) =>
        Effect.flatMap(
          Ref.modify(routes, (map): readonly [boolean, Routes] => {
            const existing = routesOf(map, host)
            // the kernel refuses a second route with the same prefix, table and metric (EEXIST)
            if (existing.some((r) => r.table === table && r.metric === metric)) return [false, map]
            const ours: Route = { host, origin: "ours", protocol, table, metric }
            return [true, HashMap.set(map, keyOf(host), [ours, ...existing])]
          }),
          (claimed) => (claimed ? Effect.void : Effect.fail(new HostTaken({ host: formatIp(host) })))
        ),
      release: (host) => Effect.asVoid(removeWhere(host, (r) => r.origin === "ours")),
      sourceTowards: (peer) => Effect.succeed(nodeAddresses.find((a) => a.family === peer.family))
    })

    const removeWhere = (host: Ip, predicate: (route: Route) => boolean): Effect.Effect<number> =>
      Ref.modify(routes, (map): readonly [number, Routes] => {
        const existing = routesOf(map, host)
        const kept = existing.filter((r) => !predicate(r))
        if (kept.length === existing.length) return [0, map]
        const key = keyOf(host)
        return [
          existing.length - kept.length,
          kept.length === 0 ? HashMap.remove(map, key) : HashMap.set(map, key, kept)
        ]
      })

    const addOther = (input: RouteInput): Effect.Effect<void> =>
      Ref.update(routes, (map) => {
        const route: Route = {
          host: input.host,
          origin:
            isOurs({ protocol: input.protocol ?? 12, table: input.table ?? table }) &&
            (input.metric === undefined || input.metric === metric)
              ? "ours"
              : "other",
          protocol: input.protocol ?? 12,
          table: input.table ?? table,
          metric: input.metric ?? 32,
          ...(input.device === undefined ? {} : { device: input.device }),
          ...(input.nextHop === undefined ? {} : { nextHop: input.nextHop })
        }
        const existing = routesOf(map, input.host)
        if (existing.some((r) => sameRoute(r, route))) return map
        return HashMap.set(map, keyOf(input.host), [...existing, route])
      })

    // migrate's two changes: our route through a given device, and deleting the Go plugin's route
    const legacy: LegacyRoutes["Service"] = {
      adopt: (host, device) =>
        Effect.flatMap(
          Ref.modify(routes, (map): readonly [boolean, Routes] => {
            const existing = routesOf(map, host)
            if (existing.some((r) => r.table === table && r.metric === metric)) return [false, map]
            const ours: Route = { host, origin: "ours", protocol, table, metric, device }
            return [true, HashMap.set(map, keyOf(host), [ours, ...existing])]
          }),
          (adopted) => (adopted ? Effect.void : Effect.fail(new HostTaken({ host: formatIp(host) })))
        ),
      remove: (host) => Effect.asVoid(removeWhere(host, (r) => isLegacy(r, { protocol, table, metric })))
    }

    return {
      table: routeTable,
      legacy,
      addOther,
      remove: (host, predicate = () => true) => removeWhere(host, predicate),
      snapshot: Effect.map(Ref.get(routes), (map) =>
        [...HashMap.values(map)].flat().sort(byAddressThenOrigin)
      )
    }
  })

/** A fresh empty table per build, as the RouteTable port. */
export const layer = (options?: Options): Layer.Layer<RouteTable> =>
  Layer.effect(
    RouteTable,
    Effect.map(make(options), (built) => built.table)
  )

/** A fresh empty table per build, with its `MemoryRouteTableControl` to seed and inspect it. */
export const layerWithControl = (options?: Options): Layer.Layer<RouteTable | MemoryRouteTableControl> =>
  Layer.effectContext(
    Effect.map(make(options), (built) =>
      Context.make(RouteTable, built.table).pipe(
        Context.add(
          MemoryRouteTableControl,
          MemoryRouteTableControl.of({
            addOther: built.addOther,
            remove: built.remove,
            snapshot: built.snapshot
          })
        )
      )
    )
  )
