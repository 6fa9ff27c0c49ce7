// Port: the routing table of this node, the only record of which addresses are taken.
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Cidr, Ip } from "./Ip.ts"
import type { Route } from "./Route.ts"

/**
 * Why a RouteTableError happened, when the adapter can tell:
 * - "DeviceMissing": the interface our host routes point at does not exist (a configuration
 *   problem of the node, not an I/O failure); only an insert needs it.
 * - "TimedOut": the table did not answer within the adapter's timeout.
 */
export const RouteTableErrorReason = Schema.Literals(["DeviceMissing", "TimedOut"])
export type RouteTableErrorReason = typeof RouteTableErrorReason.Type

/** The table could not be read or written (netlink failure, permission, timeout, missing device, ...). */
export class RouteTableError extends Schema.TaggedError<RouteTableError>()("RouteTableError", {
  operation: Schema.String,
  message: Schema.String,
  reason: Schema.optionalKey(RouteTableErrorReason)
}) {}

/** A claim found a route of ours already there: the kernel refused the insert (EEXIST). */
export class HostTaken extends Schema.TaggedError<HostTaken>()("HostTaken", {
  host: Schema.String
}) {}

/**
 * The routing table of one node, scoped to one configuration (route protocol, table, device).
 *
 * Gotchas:
 * - `claim` must be atomic on this node: two concurrent claims of the same host, one wins and
 *   the other fails with `HostTaken` (netlink: insert with CREATE|EXCL).
 * - `release` only ever removes our own route and succeeds when there is none.
 * - Only `claim` needs the configured device: reading, releasing and listing work while it does
 *   not exist (a fresh node before its first pod, or after `ip link del`), because "ours" is
 *   protocol + table + metric, never the device.
 * - `routesTo` returns what this node can see right now; on a real node that depends on the
 *   routing daemon having propagated peers' claims.
 */
export class RouteTable extends Context.Service<
  RouteTable,
  {
    /** Every route to exactly this host prefix that this node sees (ours and others). */
    routesTo(host: Ip): Effect.Effect<ReadonlyArray<Route>, RouteTableError>
    /** Whether any route to exactly this host prefix exists: the cheap test used while picking. */
    isTaken(host: Ip): Effect.Effect<boolean, RouteTableError>
    /** Every host route inside a prefix, ours and others, in one read of the table. */
    hostRoutesIn(prefix: Cidr): Effect.Effect<ReadonlyArray<Route>, RouteTableError>
    /**
     * Insert our host route; fails with `HostTaken` when it is already there, and with a
     * RouteTableError of reason "DeviceMissing" when the configured device does not exist.
     */
    claim(host: Ip): Effect.Effect<void, HostTaken | RouteTableError>
    /** Remove our host route if present (idempotent; never touches a route that is not ours). */
    release(host: Ip): Effect.Effect<void, RouteTableError>
    /** The source address this node uses to reach `peer`: the conflict tie-break compares it. */
    sourceTowards(peer: Ip): Effect.Effect<Ip | undefined, RouteTableError>
  }
>()("routetable-ipam/RouteTable") {}
