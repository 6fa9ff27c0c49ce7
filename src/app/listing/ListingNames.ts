// How `list` names what the kernel numbers: a next hop by the node's name, a route protocol by its rt_protos name.
import { formatIp, type Ip, keyOf } from "../../domain/Ip.ts"

/** Names `list` shows beside the numbers; empty maps print numbers only. */
export interface ListingNames {
  /** Node names by next-hop address (`keyOf`), e.g. from a hosts(5)-format file. */
  readonly nodes: ReadonlyMap<string, string>
  /** Route protocol names by number (iproute2's tables, see `protocolNamesWithOurs`). */
  readonly protocols: ReadonlyMap<number, string>
}

/** No names: every next hop and protocol as a number. */
export const numbersOnly: ListingNames = { nodes: new Map(), protocols: new Map() }

/** The name of our route protocol when iproute2's tables give its number none. */
export const ourProtocolName = "routetable-ipam"

/**
 * The tables' names plus ours: our configured protocol is called `routetable-ipam` unless the
 * tables already name that number (as Debian's do for 192, "eigrp"; `ip route` prints that name too,
 * and an rt_protos.d/*.conf line `192 routetable-ipam` renames it for both).
 */
export const protocolNamesWithOurs = (
  tables: ReadonlyMap<number, string>,
  ourProtocol: number
): ReadonlyMap<number, string> =>
  tables.has(ourProtocol) ? tables : new Map([...tables, [ourProtocol, ourProtocolName]])

/** The node name of a next hop, when known. */
export const nodeNameOf = (address: Ip, names: ListingNames): string | undefined =>
  names.nodes.get(keyOf(address))

/** `node-b (198.18.0.2)` when the node is known, else the address alone. */
export const formatNextHop = (address: Ip, names: ListingNames): string => {
  const name = nodeNameOf(address, names)
  return name === undefined ? formatIp(address) : `${name} (${formatIp(address)})`
}

/** The name of a route protocol, when known. */
export const protocolNameOf = (protocol: number, names: ListingNames): string | undefined =>
  names.protocols.get(protocol)

/** `bird (12)` when the protocol has a name, else the number alone. */
export const formatProtocol = (protocol: number, names: ListingNames): string => {
  const name = protocolNameOf(protocol, names)
  return name === undefined ? String(protocol) : `${name} (${protocol})`
}
