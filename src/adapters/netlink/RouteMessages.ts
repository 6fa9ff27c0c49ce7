// Kernel route messages as domain Routes: protocol, table, metric, device, next hops (ECMP expanded).
import { rt } from "./NetlinkPackage.ts"
import { bitsOf, equals, type Family, type Ip } from "../../domain/Ip.ts"
import type { Route } from "../../domain/Route.ts"
import { familyOfAddressFamily, fromBytes } from "./AddressBytes.ts"

/** What makes a route ours: exactly what `claim` inserts and `release` deletes. */
export interface Ownership {
  readonly protocol: number
  readonly table: number
  readonly metric: number
}

const RTA_GATEWAY = 5
const RTA_VIA = 18

const numberOf = <E extends Record<string, string | number>>(
  names: E,
  value: number | string | undefined
): number => (typeof value === "number" ? value : value === undefined ? 0 : Number(names[value] ?? 0))

/** Route protocol number of a message (the package turns known numbers into names). */
export const protocolOf = (message: rt.RouteMessage): number =>
  numberOf(rt.RouteProtocol, message.data.protocol)

/** Table id of a message (RTA_TABLE holds ids above 255). */
export const tableOf = (message: rt.RouteMessage): number => message.attrs.table ?? message.data.table ?? 0

/** Metric (RTA_PRIORITY); the kernel omits it for 0. */
export const metricOf = (message: rt.RouteMessage): number => message.attrs.priority ?? 0

/** The host (/32, /128) a message is a route to, if it is a host route. */
export const hostOf = (message: rt.RouteMessage): Ip | undefined => {
  const family = familyOfAddressFamily(message.data.family)
  if (family === undefined || message.data.dstLen !== bitsOf(family)) return undefined
  return fromBytes(family, message.attrs.dst)
}

/** Whether the message is a host route to exactly `host`. */
export const isHostRouteTo = (message: rt.RouteMessage, host: Ip): boolean => {
  const dst = hostOf(message)
  return dst !== undefined && equals(dst, host)
}

/** A cached/cloned entry (exceptions, RTM_F_CLONED), not a route of the table. */
export const isCloned = (message: rt.RouteMessage): boolean => message.data.flags?.cloned === true

/** Whether the message is our own claim. */
export const isOurs = (message: rt.RouteMessage, ownership: Ownership): boolean =>
  protocolOf(message) === ownership.protocol &&
  tableOf(message) === ownership.table &&
  metricOf(message) === ownership.metric

interface NextHop {
  readonly device?: number
  readonly gateway?: Ip
}

/** The next hops of RTA_MULTIPATH: struct rtnexthop {u16 len, u8 flags, u8 hops, i32 ifindex} + attributes. */
const multipathHops = (family: Family, buffer: Buffer): ReadonlyArray<NextHop> => {
  const hops: Array<NextHop> = []
  let offset = 0
  while (offset + 8 <= buffer.length) {
    const length = buffer.readUInt16LE(offset)
    if (length < 8 || offset + length > buffer.length) break
    const device = buffer.readInt32LE(offset + 4)
    let gateway: Ip | undefined
    let attribute = offset + 8
    while (attribute + 4 <= offset + length) {
      const attributeLength = buffer.readUInt16LE(attribute)
      const type = buffer.readUInt16LE(attribute + 2) & 0x3fff
      if (attributeLength < 4) break
      const payload = buffer.subarray(attribute + 4, attribute + attributeLength)
      if (type === RTA_GATEWAY) gateway = fromBytes(family, payload)
      if (type === RTA_VIA && payload.length >= 2) {
        const viaFamily = familyOfAddressFamily(payload.readUInt16LE(0))
        if (viaFamily !== undefined) gateway = fromBytes(viaFamily, payload.subarray(2))
      }
      attribute += (attributeLength + 3) & ~3
    }
    hops.push({ ...(device > 0 ? { device } : {}), ...(gateway === undefined ? {} : { gateway }) })
    offset += (length + 3) & ~3
  }
  return hops
}

// RTA_VIA (an IPv4 route through an IPv6 next hop) is not decoded by the package; such a route
// is reported without nextHop.
const singleHop = (family: Family, message: rt.RouteMessage): NextHop => {
  const gateway = fromBytes(family, message.attrs.gateway)
  const device = message.attrs.oif
  return { ...(device === undefined ? {} : { device }), ...(gateway === undefined ? {} : { gateway }) }
}

/** The routes a host-route message stands for: one per next hop (an ECMP route lists several). */
export const routesOf = (message: rt.RouteMessage, ownership: Ownership): ReadonlyArray<Route> => {
  const host = hostOf(message)
  if (host === undefined) return []
  const base = {
    host,
    origin: isOurs(message, ownership) ? ("ours" as const) : ("other" as const),
    protocol: protocolOf(message),
    table: tableOf(message),
    metric: metricOf(message)
  }
  const multipath = message.attrs.multipath
  const hops =
    multipath === undefined ? [singleHop(host.family, message)] : multipathHops(host.family, multipath)
  return (hops.length === 0 ? [{}] : hops).map((hop: NextHop) => ({
    ...base,
    ...(hop.device === undefined ? {} : { device: hop.device }),
    ...(hop.gateway === undefined ? {} : { nextHop: hop.gateway })
  }))
}
