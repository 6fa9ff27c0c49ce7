// Production RouteTable: our claims as host routes in the kernel, over rtnetlink (IPv4 and IPv6).
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createRtNetlink, FlagsNew, type RtNetlinkSocket, type rt } from "netlink"
import { bitsOf, type Cidr, contains, formatIp, type Ip } from "../domain/Ip.ts"
import type { Route } from "../domain/Route.ts"
import { HostTaken, RouteTable, RouteTableError } from "../domain/RouteTable.ts"
import { addressFamilyOf, fromBytes, toBytes } from "./netlink/AddressBytes.ts"
import { describeFailure, noRouteRejections, rejectionOf } from "./netlink/NetlinkRejection.ts"
import {
  hostOf,
  isCloned,
  isHostRouteTo,
  isOurs,
  type Ownership,
  routesOf,
  tableOf
} from "./netlink/RouteMessages.ts"

/** Which routes are ours and where they point. */
export interface Options {
  /** Route protocol number of our claims, 1..255 (default 192, as the original plugin). */
  readonly protocol?: number
  /** Routing table of our claims (default 254, main). */
  readonly table?: number
  /** Interface our host routes point at: a name, or an ifindex like the original plugin's LINK_INDEX (default "lo"). */
  readonly device?: string | number
  /**
   * Metric of our claims (default 4096). Keep it WORSE (higher) than every routing daemon's
   * (BIRD 32, FRR 20, IPv6 kernel default 1024): see `routesTo` below for why.
   */
  readonly metric?: number
}

/** The defaults of `Options`. */
export const defaults = { protocol: 192, table: 254, device: "lo", metric: 4096 } as const

const MAIN_TABLE = 254

type Socket = RtNetlinkSocket

const configurationError = (message: string) => new RouteTableError({ operation: "configure", message })

const validated = (options: Options | undefined): Effect.Effect<Required<Options>, RouteTableError> => {
  const settings = { ...defaults, ...options }
  const { protocol, table, metric, device } = settings
  if (!Number.isInteger(protocol) || protocol < 1 || protocol > 255) {
    return Effect.fail(configurationError(`route protocol must be 1..255, got ${protocol}`))
  }
  if (!Number.isInteger(table) || table < 1 || table > 0xffffffff) {
    return Effect.fail(configurationError(`table must be 1..4294967295, got ${table}`))
  }
  if (!Number.isInteger(metric) || metric < 0 || metric > 0xffffffff) {
    return Effect.fail(configurationError(`metric must be 0..4294967295, got ${metric}`))
  }
  if (typeof device === "number" ? !Number.isInteger(device) || device < 1 : device === "") {
    return Effect.fail(configurationError(`device must be an interface name or index, got ${device}`))
  }
  return Effect.succeed(settings)
}

const attempt = <A>(run: () => Promise<A>): Effect.Effect<A, unknown> =>
  Effect.tryPromise({ try: run, catch: (cause) => cause })

const failure = (operation: string) => (cause: unknown) =>
  new RouteTableError({ operation, message: describeFailure(cause) })

/** The ifindex of the configured device, checked to exist in this namespace. */
const resolveDevice = (socket: Socket, device: string | number): Effect.Effect<number, RouteTableError> =>
  attempt(() =>
    typeof device === "number" ? socket.getLink({ index: device }) : socket.getLink({}, { ifname: device })
  ).pipe(
    Effect.mapError((cause) =>
      rejectionOf(cause) === "ENODEV"
        ? new RouteTableError({ operation: "configure", message: `no such device: ${device}` })
        : failure("configure")(cause)
    ),
    Effect.flatMap((links) => {
      const index = links[0]?.data.index
      return index === undefined
        ? Effect.fail(new RouteTableError({ operation: "configure", message: `no such device: ${device}` }))
        : Effect.succeed(index)
    })
  )

/**
 * The RouteTable port over rtnetlink, with one netlink socket for the scope's lifetime.
 *
 * - `claim`: RTM_NEWROUTE with CREATE|EXCL of `host/32` (`/128`), our protocol, table, metric,
 *   device (scope link for IPv4). EEXIST (a route with the same table+metric exists) -> HostTaken.
 * - `release`: RTM_DELROUTE matching protocol + table + metric + dst, so the kernel itself never
 *   removes anyone else's route; ESRCH (nothing to delete) is success.
 * - "ours" = our protocol AND our table AND our metric (what claim makes and release removes);
 *   every other route to the host is "other".
 *
 * isTaken / routesTo never dump the table in the normal case (main table). They use
 * RTM_GETROUTE with RTM_F_FIB_MATCH (~0.1 ms), which returns only the BEST route to the address:
 * 1. lookup(host): a host route answer means taken; it is reported (every ECMP next hop as a route).
 * 2. if that best route is not ours: lookup(host, oif = our device) skips routes through other
 *    devices (learned routes point at the underlay), so it returns our route if it still exists.
 * Because our metric is worse than any daemon's, a competing route normally wins step 1 and is seen.
 *
 * What routesTo can miss, and why that is acceptable: when OUR route is the best one (step 1
 * answers ours), other routes to the same host with a WORSE metric than ours (higher than
 * 4096 by default) are not listed. Routing daemons install learned routes with low metrics
 * (BIRD 32, FRR 20), so a peer's claim always outranks ours and is seen; a route that loses to
 * ours is invisible, which is exactly the case where routing to the address still reaches us.
 * Keep `metric` above the daemon's metric, or peers' claims become invisible.
 *
 * Slow paths (one dump, all tables, filtered here): a non-ours host route through our own
 * device that beats ours (it hides ours from step 2); and, for a non-main `table`, any answer
 * that did not come from that table. RTA_TABLE in a lookup request does NOT select a table
 * (tested: the kernel routes the lookup through the policy rules; the answer's table is only
 * reported with RTM_F_LOOKUP_TABLE). So with a non-main table, lookups are conclusive only when
 * a policy rule sends lookups for the pool to it first (e.g. `ip rule add to <pool> lookup T`)
 * and the answer comes from T; otherwise every isTaken/routesTo dumps.
 *
 * Reject routes (blackhole, unreachable, prohibit) make lookups fail with EINVAL, EHOSTUNREACH or
 * EACCES: lookups treat them as "no host route" (a covering blackhole of the pool is common), so
 * a reject-type HOST route is not seen by isTaken/routesTo (hostRoutesIn, a dump, lists it).
 *
 * hostRoutesIn: one RTM_GETROUTE dump of the family (the package has no NETLINK_GET_STRICT_CHK,
 * so the kernel cannot filter it: all tables come back, ~170 ms per 20,000 routes), filtered here
 * to host routes inside the prefix, cloned/cache entries excluded.
 */
export const make = (options?: Options): Effect.Effect<RouteTable["Service"], RouteTableError, Scope.Scope> =>
  Effect.gen(function* () {
    const settings = yield* validated(options)
    const socket = yield* Effect.acquireRelease(
      Effect.try({ try: () => createRtNetlink(), catch: failure("open") }),
      (opened) => Effect.sync(() => opened.socket.close())
    )
    const device = yield* resolveDevice(socket, settings.device)
    const ownership: Ownership = {
      protocol: settings.protocol,
      table: settings.table,
      metric: settings.metric
    }
    const table = settings.table
    // ids above 255 travel only in RTA_TABLE; rtm_table is then RT_TABLE_UNSPEC
    const tableByte = table < 256 ? table : 0

    const head = (host: Ip) => ({ family: addressFamilyOf(host.family), dstLen: bitsOf(host.family) })

    /** The best route for host (restricted to one output device), or undefined when there is none. */
    const lookup = (host: Ip, oif?: number): Effect.Effect<rt.RouteMessage | undefined, RouteTableError> =>
      attempt(() =>
        socket.getRoute(
          { ...head(host), flags: { fibMatch: true, lookupTable: true } },
          { dst: toBytes(host), ...(oif === undefined ? {} : { oif }) }
        )
      ).pipe(
        Effect.map((messages) => messages[0]),
        Effect.catch((cause) =>
          noRouteRejections.has(rejectionOf(cause) ?? "")
            ? Effect.succeed(undefined)
            : Effect.fail(failure("lookup")(cause))
        )
      )

    /** Whether an answer that is not a host route proves there is none in our table. */
    const provesAbsent = (answer: rt.RouteMessage | undefined): boolean =>
      answer === undefined ? table === MAIN_TABLE : tableOf(answer) === table

    const dumpHostRoutes = (family: 4 | 6): Effect.Effect<ReadonlyArray<rt.RouteMessage>, RouteTableError> =>
      attempt(() => socket.getRoutes({ family: addressFamilyOf(family) })).pipe(
        Effect.map((messages) =>
          messages.filter((message) => !isCloned(message) && hostOf(message) !== undefined)
        ),
        Effect.mapError(failure("dump"))
      )

    const dumpRoutesTo = (host: Ip): Effect.Effect<ReadonlyArray<Route>, RouteTableError> =>
      dumpHostRoutes(host.family).pipe(
        Effect.map((messages) =>
          messages
            .filter((message) => isHostRouteTo(message, host))
            .flatMap((message) => routesOf(message, ownership))
        )
      )

    const routesTo = Effect.fn("NetlinkRouteTable.routesTo")(function* (host: Ip) {
      const best = yield* lookup(host)
      if (best === undefined || !isHostRouteTo(best, host)) {
        return provesAbsent(best) ? [] : yield* dumpRoutesTo(host)
      }
      const seen = routesOf(best, ownership)
      if (isOurs(best, ownership)) return seen
      const viaOurDevice = yield* lookup(host, device)
      if (viaOurDevice === undefined || !isHostRouteTo(viaOurDevice, host)) {
        return provesAbsent(viaOurDevice) ? seen : yield* dumpRoutesTo(host)
      }
      if (isOurs(viaOurDevice, ownership)) return [...seen, ...routesOf(viaOurDevice, ownership)]
      return yield* dumpRoutesTo(host)
    })

    const isTaken = Effect.fn("NetlinkRouteTable.isTaken")(function* (host: Ip) {
      const best = yield* lookup(host)
      if (best !== undefined && isHostRouteTo(best, host)) return true
      if (provesAbsent(best)) return false
      return (yield* dumpRoutesTo(host)).length > 0
    })

    const hostRoutesIn = Effect.fn("NetlinkRouteTable.hostRoutesIn")(function* (prefix: Cidr) {
      const messages = yield* dumpHostRoutes(prefix.family)
      return messages.flatMap((message) => {
        const host = hostOf(message)
        return host !== undefined && contains(prefix, host) ? routesOf(message, ownership) : []
      })
    })

    const claim = (host: Ip): Effect.Effect<void, HostTaken | RouteTableError> =>
      attempt(() =>
        socket.newRoute(
          {
            ...head(host),
            table: tableByte,
            protocol: settings.protocol as rt.RouteProtocol,
            scope: host.family === 4 ? "LINK" : "UNIVERSE",
            type: "UNICAST"
          },
          { dst: toBytes(host), oif: device, priority: settings.metric, table },
          { flags: FlagsNew.CREATE | FlagsNew.EXCL }
        )
      ).pipe(
        Effect.asVoid,
        Effect.mapError((cause) =>
          rejectionOf(cause) === "EEXIST" ? new HostTaken({ host: formatIp(host) }) : failure("claim")(cause)
        )
      )

    const release = (host: Ip): Effect.Effect<void, RouteTableError> =>
      attempt(() =>
        socket.delRoute(
          {
            ...head(host),
            table: tableByte,
            protocol: settings.protocol as rt.RouteProtocol,
            scope: "NOWHERE",
            type: "UNICAST"
          },
          { dst: toBytes(host), priority: settings.metric, table }
        )
      ).pipe(
        Effect.asVoid,
        Effect.catch((cause) =>
          rejectionOf(cause) === "ESRCH" ? Effect.void : Effect.fail(failure("release")(cause))
        )
      )

    const sourceTowards = (peer: Ip): Effect.Effect<Ip | undefined, RouteTableError> =>
      attempt(() => socket.getRoute(head(peer), { dst: toBytes(peer) })).pipe(
        Effect.map((messages) => fromBytes(peer.family, messages[0]?.attrs.prefsrc)),
        Effect.catch((cause) =>
          noRouteRejections.has(rejectionOf(cause) ?? "")
            ? Effect.succeed(undefined)
            : Effect.fail(failure("sourceTowards")(cause))
        )
      )

    return RouteTable.of({ routesTo, isTaken, hostRoutesIn, claim, release, sourceTowards })
  })

/** The RouteTable of the network namespace this process runs in; the socket closes with the layer. */
export const layer = (options?: Options): Layer.Layer<RouteTable, RouteTableError> =>
  Layer.effect(RouteTable, make(options))
