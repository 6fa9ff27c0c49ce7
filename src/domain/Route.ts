// A host route as this node's routing table shows it: who put it there and where it points.
import type { Ip } from "./Ip.ts"

/**
 * One route to a host prefix (/32 or /128).
 * `ours`: our route protocol number in our table (claims made by this node's plugin).
 * `other`: anything else for the same prefix: a route learned from a routing daemon,
 * a static route, another protocol. Either way the address is taken.
 */
export interface Route {
  readonly host: Ip
  readonly origin: "ours" | "other"
  readonly protocol: number
  readonly table: number
  readonly metric: number
  /** Output interface index, when the route has one. */
  readonly device?: number
  /** Gateway: for a learned route, the node that claimed the address. */
  readonly nextHop?: Ip
}

/** Whether the route is this node's own claim. */
export const isOurs = (route: Route): boolean => route.origin === "ours"
