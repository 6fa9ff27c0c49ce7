// The LegacyRoutes port over rtnetlink: our route through the Go plugin's device, and deleting the Go plugin's route exactly.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { FlagsGet, FlagsNew, rt } from "./netlink/NetlinkPackage.ts"
import { formatIp, type Ip } from "../domain/Ip.ts"
import { LegacyRoutes, legacyMetricOf, type RouteOwnership } from "../domain/LegacyRoute.ts"
import { HostTaken, type RouteTableError } from "../domain/RouteTable.ts"
import { addressFamilyOf, toBytes } from "./netlink/AddressBytes.ts"
import { Errno, errnoOf } from "./netlink/NetlinkRejection.ts"
import { isCloned, isHostRouteTo, metricOf, protocolOf, tableOf } from "./netlink/RouteMessages.ts"
import { hostHead, routeTableFailure, serialExchange } from "./netlink/BoundedExchange.ts"
import { openTransport, type RtnlTransport, routePayload } from "./netlink/RtnlTransport.ts"

/** What makes a route ours, and how long one request may take. */
export interface Options extends RouteOwnership {
  /** Longest wait for one insert, delete or dump, in ms (default 30000). */
  readonly requestTimeout?: number
}

/**
 * LegacyRoutes over a NETLINK_ROUTE socket of this process's network namespace.
 *
 * - `adopt`: RTM_NEWROUTE with CREATE|EXCL, as NetlinkRouteTable's claim (our protocol, table,
 *   metric; scope link for IPv4), through the given ifindex; EEXIST -> HostTaken.
 * - `remove`: one dump of the family finds the Go plugin's routes to the host (our protocol and
 *   table, metric 0 / 1024, no gateway); each is deleted with its own scope, device and metric.
 *   The Go plugin inserted IPv4 routes with scope universe and ours have scope link, so the kernel
 *   cannot match that delete to ours; a legacy route made with scope link (by hand) leaves the
 *   race the port's Gotchas describe. Nothing found: nothing deleted (never a blind delete).
 */
export const makeWith = (
  options: Options,
  open: () => RtnlTransport
): Effect.Effect<LegacyRoutes["Service"], RouteTableError, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* Effect.acquireRelease(
      Effect.try({ try: open, catch: routeTableFailure("open") }),
      (opened) => Effect.sync(() => opened.close())
    )
    const timeout = options.requestTimeout ?? 30_000
    const tableByte = options.table < 256 ? options.table : 0

    const send = yield* serialExchange(transport)
    const exchange = (
      operation: string,
      type: rt.MessageType,
      payload: ReadonlyArray<Uint8Array>,
      flags: number
    ) => send(operation, type, payload, flags, timeout)

    const adopt = (host: Ip, device: number): Effect.Effect<void, HostTaken | RouteTableError> =>
      exchange(
        "adopt",
        rt.MessageType.NEWROUTE,
        routePayload(
          {
            ...hostHead(host),
            table: tableByte,
            protocol: options.protocol as rt.RouteProtocol,
            scope: host.family === 4 ? "LINK" : "UNIVERSE",
            type: "UNICAST"
          },
          { dst: toBytes(host), oif: device, priority: options.metric, table: options.table }
        ),
        FlagsNew.CREATE | FlagsNew.EXCL
      ).pipe(
        Effect.asVoid,
        Effect.catch((cause) =>
          Effect.fail(
            errnoOf(cause) === Errno.EEXIST
              ? new HostTaken({ host: formatIp(host) })
              : routeTableFailure("adopt")(cause)
          )
        )
      )

    const legacyRoutesTo = (host: Ip) =>
      exchange(
        "dump",
        rt.MessageType.GETROUTE,
        routePayload({ family: addressFamilyOf(host.family) }, {}),
        FlagsGet.DUMP
      ).pipe(
        Effect.map((messages) =>
          messages.filter(
            (m): m is rt.RouteMessage =>
              m.kind === "route" &&
              !isCloned(m) &&
              isHostRouteTo(m, host) &&
              protocolOf(m) === options.protocol &&
              tableOf(m) === options.table &&
              metricOf(m) === legacyMetricOf(host.family) &&
              metricOf(m) !== options.metric &&
              m.attrs.gateway === undefined &&
              m.attrs.multipath === undefined
          )
        ),
        Effect.mapError(routeTableFailure("dump"))
      )

    const remove = (host: Ip): Effect.Effect<void, RouteTableError> =>
      Effect.gen(function* () {
        for (const route of yield* legacyRoutesTo(host)) {
          yield* exchange(
            "remove legacy route",
            rt.MessageType.DELROUTE,
            routePayload(
              {
                ...hostHead(host),
                table: tableByte,
                protocol: options.protocol as rt.RouteProtocol,
                scope: route.data.scope ?? "UNIVERSE",
                type: "UNICAST"
              },
              {
                dst: toBytes(host),
                priority: legacyMetricOf(host.family),
                table: options.table,
                ...(route.attrs.oif === undefined ? {} : { oif: route.attrs.oif })
              }
            ),
            0
          ).pipe(
            Effect.catch((cause) =>
              errnoOf(cause) === Errno.ESRCH
                ? Effect.void
                : Effect.fail(routeTableFailure("remove legacy route")(cause))
            )
          )
        }
      })

    return LegacyRoutes.of({ adopt, remove })
  })

/** The LegacyRoutes of the network namespace this process runs in; the socket closes with the layer. */
export const layer = (options: Options): Layer.Layer<LegacyRoutes, RouteTableError> =>
  Layer.effect(LegacyRoutes, makeWith(options, openTransport))
