// Routes of the original Go plugin (travishegner/routetable-ipam): how to recognise them, and the port that adopts or deletes them.
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { Family, Ip } from "./Ip.ts"
import type { Route } from "./Route.ts"
import type { HostTaken, RouteTableError } from "./RouteTable.ts"

/** What makes a route ours: exactly what our claims insert (the netlink adapter's rule). */
export interface RouteOwnership {
  readonly protocol: number
  readonly table: number
  readonly metric: number
}

/**
 * The metric of the Go plugin's routes. It inserted them with no metric (vishvananda/netlink
 * `RouteAdd` with `Protocol: 192` and the container's link), so the kernel gave IPv4 routes metric
 * 0 and IPv6 routes its default, 1024. Our own claims use `metric` (4096 by default, never 1024 or
 * below), so the two never share a metric and can stand side by side for the same address.
 */
export const legacyMetricOf = (family: Family): number => (family === 4 ? 0 : 1024)

/**
 * Whether `route` is a route of the original Go plugin on this node: our protocol and table, the
 * Go plugin's metric for its family, no next hop (it pointed its routes at a device only), and not
 * ours (a configured metric equal to the legacy one would make the two indistinguishable: then it
 * is ours).
 * A legacy route holds its address like any other route (the picker skips it); gc, DEL and
 * `release` never delete it, since none of them deletes anything but our exact route.
 */
export const isLegacy = (route: Route, ours: RouteOwnership): boolean =>
  route.origin !== "ours" &&
  route.protocol === ours.protocol &&
  route.table === ours.table &&
  route.metric === legacyMetricOf(route.host.family) &&
  route.metric !== ours.metric &&
  route.nextHop === undefined

/**
 * The two table changes of `migrate`, beside the RouteTable port (which never touches a route
 * that is not exactly ours).
 *
 * Gotchas:
 * - `adopt` inserts our route (our protocol, table and metric) through the legacy route's device,
 *   so traffic to the container keeps its path; like `claim` it is an exclusive insert and fails
 *   with `HostTaken` when our route is already there (a migrate that crashed after this step).
 * - `remove` deletes only a route with the Go plugin's metric; it succeeds when there is none.
 *   The kernel matches an IPv4 delete of metric 0 against the first route of the prefix with any
 *   metric, so a delete racing with someone else's removal of the legacy route could take ours:
 *   call it under the address's node lock, right after seeing the legacy route, and check our
 *   route afterwards (Migration.ts does).
 */
export class LegacyRoutes extends Context.Service<
  LegacyRoutes,
  {
    /** Insert our route to `host` through interface `device`; HostTaken when ours is already there. */
    adopt(host: Ip, device: number): Effect.Effect<void, HostTaken | RouteTableError>
    /** Delete the Go plugin's route to `host` (our protocol and table, its metric); idempotent. */
    remove(host: Ip): Effect.Effect<void, RouteTableError>
  }
>()("routetable-ipam/LegacyRoutes") {}
