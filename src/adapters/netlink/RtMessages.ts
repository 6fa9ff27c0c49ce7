// Route and link messages of rtnetlink through the package's generated structs only: its rt index also evaluates every other family's codecs (ifla alone is 150 KiB) on every call.
import * as gen from "netlink/dist/rt/gen_structs.js"
import type { RouteMessage } from "netlink/dist/rt/structs.js"
import { type AttrStream, type BaseObject, putObject, putString } from "netlink/dist/structs.js"

export {
  type Link,
  MessageType,
  type Route,
  type RouteAttrs,
  RouteProtocol
} from "netlink/dist/rt/gen_structs.js"
export type { RouteMessage } from "netlink/dist/rt/structs.js"

/** A link message as the route table reads it: its ifinfomsg header (the attributes are not decoded). */
export interface LinkMessage {
  readonly kind: "link"
  readonly data: gen.Link
}

/** Every message a reply to the route table's requests carries. */
export type Message = RouteMessage | LinkMessage

const routeTypes: ReadonlySet<number> = new Set([
  gen.MessageType.NEWROUTE,
  gen.MessageType.DELROUTE,
  gen.MessageType.GETROUTE
])
const linkTypes: ReadonlySet<number> = new Set([
  gen.MessageType.NEWLINK,
  gen.MessageType.DELLINK,
  gen.MessageType.GETLINK
])

/**
 * A route or link message's payload, decoded as the package's rt `parseMessage` does (the same
 * length check and struct parsers); any other type is refused as there.
 */
export const parseMessage = (type: number, r: Buffer): Message => {
  if (routeTypes.has(type)) {
    if (r.length < gen.__LENGTH_Route) throw Error(`Unexpected Route message length (${r.length})`)
    const data = gen.parseRoute(r.subarray(0, gen.__LENGTH_Route))
    const attrs = gen.parseRouteAttrs(r.subarray(gen.__LENGTH_Route))
    return { kind: "route", data, attrs }
  }
  if (linkTypes.has(type)) {
    if (r.length < gen.__LENGTH_Link) throw Error(`Unexpected Link message length (${r.length})`)
    return { kind: "link", data: gen.parseLink(r.subarray(0, gen.__LENGTH_Link)) }
  }
  throw Error(`Unsupported message type ${type}`)
}

/** A route message's payload, as the package's `formatRouteMessage` writes it. */
export const formatRouteMessage = (message: Pick<RouteMessage, "data" | "attrs">, out: AttrStream): void => {
  out.emit(gen.formatRoute(message.data))
  out.emit(gen.formatRouteAttrs(message.attrs))
}

/** IFLA_IFNAME: the interface name attribute, NUL-terminated (as the package's ifla writes it). */
const IFLA_IFNAME = 3

/** The one link attribute the route table sends. */
interface IfnameAttrs extends BaseObject {
  readonly ifname: string
}

/** A link request's payload naming one interface, as the package's `formatLinkMessage` writes it. */
export const formatLinkMessage = (data: gen.Link, attrs: IfnameAttrs, out: AttrStream): void => {
  out.emit(gen.formatLink(data))
  out.emit(
    putObject<IfnameAttrs>(attrs, {
      ifname: (stream, value) => stream.push(IFLA_IFNAME, putString(value.ifname))
    })
  )
}
