// Production RouteTable: our claims as host routes in the kernel, over rtnetlink (IPv4 and IPv6).
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { FlagsGet, FlagsNew, rt } from "./netlink/NetlinkPackage.ts"
import { type Cidr, contains, formatIp, type Ip } from "../domain/Ip.ts"
import type { Route } from "../domain/Route.ts"
import { HostTaken, RouteTable, RouteTableError } from "../domain/RouteTable.ts"
import { addressFamilyOf, fromBytes, toBytes } from "./netlink/AddressBytes.ts"
import { hostHead, routeTableFailure, serialExchange } from "./netlink/BoundedExchange.ts"
import { Errno, errnoOf, lookupAnswerOf } from "./netlink/NetlinkRejection.ts"
import {
  hostOf,
  isCloned,
  isHostRouteTo,
  isOurs,
  type Ownership,
  routesOf,
  tableOf
} from "./netlink/RouteMessages.ts"
import { linkPayload, openTransport, type RtnlTransport, routePayload } from "./netlink/RtnlTransport.ts"

/** Which routes are ours, where they point, and how long the kernel may take to answer. */
export interface Options {
  /** Route protocol number of our claims, 1..255 (default 192, as the original plugin). */
  readonly protocol?: number
  /** Routing table of our claims (default 254, main). */
  readonly table?: number
  /**
   * Interface our host routes point at: a name, or an ifindex like the original plugin's LINK_INDEX
   * (default "lo"). Looked up on the first insert only: nothing else needs it to exist.
   */
  readonly device?: string | number
  /**
   * Metric of our claims (default 4096). Keep it WORSE (higher) than every routing daemon's
   * (BIRD 32, FRR 20, IPv6 kernel default 1024): see `routesTo` below for why.
   */
  readonly metric?: number
  /** Longest wait for the kernel's answer to one lookup, insert, delete or link query, in ms (default 5000). */
  readonly requestTimeout?: number
  /** Longest wait for a dump of the family's routes (hostRoutesIn, confirming "absent"), in ms (default 30000). */
  readonly dumpTimeout?: number
}

/** The defaults of `Options`. */
export const defaults = {
  protocol: 192,
  table: 254,
  device: "lo",
  metric: 4096,
  requestTimeout: 5_000,
  dumpTimeout: 30_000
} as const

const MAIN_TABLE = 254

const configurationError = (message: string) => new RouteTableError({ operation: "configure", message })

const validated = (options: Options | undefined): Effect.Effect<Required<Options>, RouteTableError> => {
  const settings = { ...defaults, ...options }
  const { protocol, table, metric, device, requestTimeout, dumpTimeout } = settings
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
  for (const [name, value] of [
    ["requestTimeout", requestTimeout],
    ["dumpTimeout", dumpTimeout]
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      return Effect.fail(
        configurationError(`${name} must be a positive number of milliseconds, got ${value}`)
      )
    }
  }
  return Effect.succeed(settings)
}

/** A RouteTableError for any failure: a RouteTableError (a timeout) as it is, anything else described. */

/**
 * What one route lookup said: the best route's message, no route at all (ENETUNREACH), or
 * nothing conclusive (a reject route matched, EINVAL, or the output device is gone).
 */
type Lookup =
  | { readonly kind: "route"; readonly message: rt.RouteMessage }
  | { readonly kind: "none" }
  | { readonly kind: "inconclusive" }

const inconclusive: Lookup = { kind: "inconclusive" }

const isRouteMessage = (message: rt.Message): message is rt.RouteMessage => message.kind === "route"

/**
 * The RouteTable port over rtnetlink, with one netlink socket for the scope's lifetime.
 *
 * - `claim`: RTM_NEWROUTE with CREATE|EXCL of `host/32` (`/128`), our protocol, table, metric,
 *   device (scope link for IPv4). EEXIST (a route with the same table+metric exists) -> HostTaken;
 *   ENODEV, or a device name with no interface -> RouteTableError with reason "DeviceMissing".
 * - `release`: RTM_DELROUTE matching protocol + table + metric + dst, so the kernel itself never
 *   removes anyone else's route; ESRCH (nothing to delete) is success. No device needed.
 * - "ours" = our protocol AND our table AND our metric (what claim makes and release removes);
 *   every other route to the host is "other". The device is not part of it: the device is looked
 *   up on the first insert only, so reading, releasing and listing work while it does not exist.
 * - Every request is bounded by `requestTimeout` (dumps by `dumpTimeout`): a reply that never
 *   comes fails the call with a RouteTableError naming the operation, reason "TimedOut".
 * - Errors are told apart by the errno in the kernel's NLMSG_ERROR reply (never by message text).
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
 * Ambiguous answers are confirmed with one dump (all tables of the family, filtered here: the
 * package cannot set NETLINK_GET_STRICT_CHK, so the kernel cannot filter it) before answering
 * "absent", and only then:
 * - a lookup that hits a reject route (blackhole EINVAL, unreachable EHOSTUNREACH, prohibit
 *   EACCES): it may be a covering route, or a reject HOST route to the address itself, and a
 *   malformed request also gives EINVAL. So a covering reject route over the pool makes every
 *   isTaken/routesTo of it dump: keep such routes off the pools' addresses;
 * - a non-ours host route through our own device that beats ours (it hides ours from step 2),
 *   or step 2 when the device does not exist;
 * - with a non-main `table`, any answer that did not come from that table. RTA_TABLE in a
 *   lookup request does NOT select a table (tested: the kernel routes the lookup through the
 *   policy rules; the answer's table is only reported with RTM_F_LOOKUP_TABLE). So with a
 *   non-main table, lookups are conclusive only when a policy rule sends lookups for the pool to
 *   it first (e.g. `ip rule add to <pool> lookup T`) and the answer comes from T.
 * No route at all (ENETUNREACH) is conclusive for the main table.
 *
 * hostRoutesIn: one RTM_GETROUTE dump of the family (~170 ms per 20,000 routes), filtered here
 * to host routes inside the prefix, cloned/cache entries excluded.
 */
export const makeWith = (
  options: Options | undefined,
  open: () => RtnlTransport
): Effect.Effect<RouteTable["Service"], RouteTableError, Scope.Scope> =>
  Effect.gen(function* () {
    const settings = yield* validated(options)
    const transport = yield* Effect.acquireRelease(
      Effect.try({ try: open, catch: routeTableFailure("open") }),
      (opened) => Effect.sync(() => opened.close())
    )
    const ownership: Ownership = {
      protocol: settings.protocol,
      table: settings.table,
      metric: settings.metric
    }
    const table = settings.table
    // ids above 255 travel only in RTA_TABLE; rtm_table is then RT_TABLE_UNSPEC
    const tableByte = table < 256 ? table : 0

    const exchange = yield* serialExchange(transport)

    const deviceMissing = (operation: string) =>
      new RouteTableError({
        operation,
        reason: "DeviceMissing",
        message:
          typeof settings.device === "number"
            ? `no interface with index ${settings.device} in this network namespace`
            : `no interface named ${settings.device} in this network namespace`
      })

    // An index is used as given (the insert answers ENODEV if it does not exist); a name is
    // looked up once, on first use.
    let deviceIndex: number | undefined = typeof settings.device === "number" ? settings.device : undefined

    /** The ifindex of the configured device, or a DeviceMissing RouteTableError. */
    const resolveDevice = (operation: string): Effect.Effect<number, RouteTableError> => {
      const known = deviceIndex
      if (known !== undefined) return Effect.succeed(known)
      return exchange(
        operation,
        rt.MessageType.GETLINK,
        linkPayload({}, { ifname: String(settings.device) }),
        0,
        settings.requestTimeout
      ).pipe(
        Effect.catch((cause) =>
          Effect.fail(
            errnoOf(cause) === Errno.ENODEV ? deviceMissing(operation) : routeTableFailure(operation)(cause)
          )
        ),
        Effect.flatMap((messages) => {
          const index = messages.find((message) => message.kind === "link")?.data.index
          if (index === undefined) return Effect.fail(deviceMissing(operation))
          deviceIndex = index
          return Effect.succeed(index)
        })
      )
    }

    /** The best route for host (restricted to one output device), or why there is none. */
    const lookup = (host: Ip, oif?: number): Effect.Effect<Lookup, RouteTableError> =>
      exchange(
        "lookup",
        rt.MessageType.GETROUTE,
        routePayload(
          { ...hostHead(host), flags: { fibMatch: true, lookupTable: true } },
          { dst: toBytes(host), ...(oif === undefined ? {} : { oif }) }
        ),
        0,
        settings.requestTimeout
      ).pipe(
        Effect.map((messages): Lookup => {
          const message = messages.find(isRouteMessage)
          return message === undefined ? inconclusive : { kind: "route", message }
        }),
        Effect.catch((cause) => {
          const errno = errnoOf(cause)
          // ENODEV: the output device of step 2 is gone; nothing to conclude from that
          const answer = oif !== undefined && errno === Errno.ENODEV ? "inconclusive" : lookupAnswerOf(errno)
          return answer === undefined
            ? Effect.fail(routeTableFailure("lookup")(cause))
            : Effect.succeed<Lookup>({ kind: answer })
        })
      )

    const isHostAnswer = (answer: Lookup, host: Ip): answer is Extract<Lookup, { kind: "route" }> =>
      answer.kind === "route" && isHostRouteTo(answer.message, host)

    /** Whether an answer that is not a host route proves there is none in our table. */
    const provesAbsent = (answer: Lookup): boolean =>
      answer.kind === "none"
        ? table === MAIN_TABLE
        : answer.kind === "route"
          ? tableOf(answer.message) === table
          : false

    const dumpHostRoutes = (family: 4 | 6): Effect.Effect<ReadonlyArray<rt.RouteMessage>, RouteTableError> =>
      exchange(
        "dump",
        rt.MessageType.GETROUTE,
        routePayload({ family: addressFamilyOf(family) }, {}),
        FlagsGet.DUMP,
        settings.dumpTimeout
      ).pipe(
        Effect.map((messages) =>
          messages
            .filter(isRouteMessage)
            .filter((message) => !isCloned(message) && hostOf(message) !== undefined)
        ),
        Effect.mapError(routeTableFailure("dump"))
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
      if (!isHostAnswer(best, host)) return provesAbsent(best) ? [] : yield* dumpRoutesTo(host)
      const seen = routesOf(best.message, ownership)
      if (isOurs(best.message, ownership)) return seen
      const device = yield* resolveDevice("lookup").pipe(
        Effect.catchIf(
          (error) => error.reason === "DeviceMissing",
          () => Effect.succeed(undefined)
        )
      )
      if (device === undefined) return yield* dumpRoutesTo(host)
      const viaOurDevice = yield* lookup(host, device)
      if (!isHostAnswer(viaOurDevice, host)) {
        return provesAbsent(viaOurDevice) ? seen : yield* dumpRoutesTo(host)
      }
      if (isOurs(viaOurDevice.message, ownership))
        return [...seen, ...routesOf(viaOurDevice.message, ownership)]
      return yield* dumpRoutesTo(host)
    })

    const isTaken = Effect.fn("NetlinkRouteTable.isTaken")(function* (host: Ip) {
      const best = yield* lookup(host)
      if (isHostAnswer(best, host)) return true
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

    const claim = Effect.fn("NetlinkRouteTable.claim")(function* (host: Ip) {
      const device = yield* resolveDevice("claim")
      yield* exchange(
        "claim",
        rt.MessageType.NEWROUTE,
        routePayload(
          {
            ...hostHead(host),
            table: tableByte,
            protocol: settings.protocol as rt.RouteProtocol,
            scope: host.family === 4 ? "LINK" : "UNIVERSE",
            type: "UNICAST"
          },
          { dst: toBytes(host), oif: device, priority: settings.metric, table }
        ),
        FlagsNew.CREATE | FlagsNew.EXCL,
        settings.requestTimeout
      ).pipe(
        Effect.catch((cause): Effect.Effect<never, HostTaken | RouteTableError> => {
          const errno = errnoOf(cause)
          if (errno === Errno.EEXIST) return Effect.fail(new HostTaken({ host: formatIp(host) }))
          if (errno === Errno.ENODEV) {
            deviceIndex = typeof settings.device === "number" ? settings.device : undefined
            return Effect.fail(deviceMissing("claim"))
          }
          return Effect.fail(routeTableFailure("claim")(cause))
        })
      )
    })

    const release = (host: Ip): Effect.Effect<void, RouteTableError> =>
      exchange(
        "release",
        rt.MessageType.DELROUTE,
        routePayload(
          {
            ...hostHead(host),
            table: tableByte,
            protocol: settings.protocol as rt.RouteProtocol,
            scope: "NOWHERE",
            type: "UNICAST"
          },
          { dst: toBytes(host), priority: settings.metric, table }
        ),
        0,
        settings.requestTimeout
      ).pipe(
        Effect.asVoid,
        Effect.catch((cause) =>
          errnoOf(cause) === Errno.ESRCH ? Effect.void : Effect.fail(routeTableFailure("release")(cause))
        )
      )

    // No route to the peer (any reject answer included) means "no source known": the tie-break
    // then cannot decide and counts as a loss, which is always safe.
    const sourceTowards = (peer: Ip): Effect.Effect<Ip | undefined, RouteTableError> =>
      exchange(
        "sourceTowards",
        rt.MessageType.GETROUTE,
        routePayload(hostHead(peer), { dst: toBytes(peer) }),
        0,
        settings.requestTimeout
      ).pipe(
        Effect.map((messages) => fromBytes(peer.family, messages.find(isRouteMessage)?.attrs.prefsrc)),
        Effect.catch((cause) =>
          lookupAnswerOf(errnoOf(cause)) === undefined
            ? Effect.fail(routeTableFailure("sourceTowards")(cause))
            : Effect.succeed(undefined)
        )
      )

    return RouteTable.of({ routesTo, isTaken, hostRoutesIn, claim, release, sourceTowards })
  })

/** `makeWith` over a fresh NETLINK_ROUTE socket of this process's network namespace. */
export const make = (options?: Options): Effect.Effect<RouteTable["Service"], RouteTableError, Scope.Scope> =>
  makeWith(options, openTransport)

/** The RouteTable of the network namespace this process runs in; the socket closes with the layer. */
export const layer = (options?: Options): Layer.Layer<RouteTable, RouteTableError> =>
  Layer.effect(RouteTable, make(options))
