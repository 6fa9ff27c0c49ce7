// Totals of a listing: per pool (allocatable, in use here, in use elsewhere, free %) and per node (next hop, protocols).
import { formatIp, type Ip } from "../../domain/Ip.ts"
import { type ClaimListing, isThisNodes } from "./ClaimListing.ts"
import { formatProtocol, type ListingNames, nodeNameOf, numbersOnly, protocolNameOf } from "./ListingNames.ts"

/** A pool as `list` counts it: a label, its allocatable addresses, and membership. */
export interface CountedPool {
  /** How the pool is shown: "100.64.0.0/24" or "100.64.0.10-100.64.0.99". */
  readonly label: string
  readonly allocatable: bigint
  readonly contains: (address: Ip) => boolean
}

/** One pool's use as this node sees it. */
export interface PoolTotals {
  readonly pool: string
  readonly allocatable: number
  /** Addresses with a route of ours (claims of this node). */
  readonly inUseHere: number
  /** Addresses with only routes of other origins (claims of other nodes). */
  readonly inUseElsewhere: number
  readonly free: number
  /** free / allocatable in percent, one decimal (100 for an empty pool of size 0). */
  readonly freePercent: number
}

/** Where the routes of a listing point: this node, or a next hop (another node). */
export interface NodeTotals {
  /** "this node", the next hop's address, or "-" for a learned route without one. */
  readonly node: string
  /** The next hop's node name, when the names know its address. */
  readonly nodeName?: string
  /** Route protocols of the routes counted here, ascending (ours for "this node", BIRD's for a peer). */
  readonly protocols: ReadonlyArray<number>
  readonly addresses: number
}

/** This node's own claims in the per-node totals and the metrics. */
export const thisNode = "this node"

/** Per pool: addresses claimed here, elsewhere, and what is left (an address in two pools counts in each). */
export const poolTotals = (
  listing: ClaimListing,
  pools: ReadonlyArray<CountedPool>
): ReadonlyArray<PoolTotals> =>
  pools.map((pool) => {
    let here = 0
    let elsewhere = 0
    for (const claim of listing.claims) {
      if (claim.routes.length === 0 || !pool.contains(claim.address)) continue
      if (claim.routes.some((route) => isThisNodes(route, listing))) here++
      else elsewhere++
    }
    const allocatable = Number(pool.allocatable)
    const free = Math.max(0, allocatable - here - elsewhere)
    return {
      pool: pool.label,
      allocatable,
      inUseHere: here,
      inUseElsewhere: elsewhere,
      free,
      freePercent: allocatable === 0 ? 100 : Math.round((free / allocatable) * 1000) / 10
    }
  })

/**
 * Addresses per node: each route counts for the next hop it points at (a conflict counts on both
 * sides), with the protocols of those routes; a next hop the names know gets its node name. One
 * row per next hop (a dual-stack node has an IPv4 and an IPv6 one), named ones first by name (a node's rows adjacent), then the others by address.
 */
export const nodeTotals = (
  listing: ClaimListing,
  naming: ListingNames = numbersOnly
): ReadonlyArray<NodeTotals> => {
  const nodes = new Map<string, { nodeName: string | undefined; protocols: Set<number>; addresses: number }>()
  for (const claim of listing.claims) {
    const counted = new Set<string>()
    for (const route of claim.routes) {
      const here = isThisNodes(route, listing)
      const hop = here ? undefined : route.nextHop
      const node = here ? thisNode : hop === undefined ? "-" : formatIp(hop)
      const entry = nodes.get(node) ?? {
        nodeName: hop === undefined ? undefined : nodeNameOf(hop, naming),
        protocols: new Set<number>(),
        addresses: 0
      }
      entry.protocols.add(route.protocol)
      if (!counted.has(node)) entry.addresses++
      counted.add(node)
      nodes.set(node, entry)
    }
  }
  return [...nodes.entries()]
    .map(
      ([node, { nodeName, protocols, addresses }]): NodeTotals => ({
        node,
        ...(nodeName === undefined ? {} : { nodeName }),
        protocols: [...protocols].sort((a, b) => a - b),
        addresses
      })
    )
    .sort((a, b) =>
      a.node === thisNode
        ? -1
        : b.node === thisNode
          ? 1
          : Number(a.nodeName === undefined) - Number(b.nodeName === undefined) ||
            (a.nodeName ?? "").localeCompare(b.nodeName ?? "") ||
            a.node.localeCompare(b.node)
    )
}

/** `node-b (198.18.0.2)` when the node has a name, else the NODE cell as counted. */
const nodeCell = (totals: NodeTotals): string =>
  totals.nodeName === undefined ? totals.node : `${totals.nodeName} (${totals.node})`

/** The per-node totals for --json: the raw next hop in `node`, `nodeName` (null when unknown), protocols by number and name. */
export const nodeTotalsToJson = (nodes: ReadonlyArray<NodeTotals>, naming: ListingNames = numbersOnly) =>
  nodes.map((n) => ({
    node: n.node,
    nodeName: n.nodeName ?? null,
    protocols: n.protocols.map((protocol) => ({ protocol, name: protocolNameOf(protocol, naming) ?? null })),
    addresses: n.addresses
  }))

/** Aligned rows: the first `textColumns` columns left-aligned, the numbers after them right-aligned. */
const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  textColumns = 1
): Array<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i < textColumns ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

/**
 * The totals as two aligned tables (pools, then nodes), as `list` prints them under the claims;
 * with `naming`, protocols by name (`bird (12)`).
 */
export const formatTotals = (
  pools: ReadonlyArray<PoolTotals>,
  nodes: ReadonlyArray<NodeTotals>,
  naming: ListingNames = numbersOnly
): string =>
  [
    ...table(
      ["POOL", "ALLOCATABLE", "IN USE HERE", "IN USE ELSEWHERE", "FREE", "FREE %"],
      pools.map((p) => [
        p.pool,
        String(p.allocatable),
        String(p.inUseHere),
        String(p.inUseElsewhere),
        String(p.free),
        p.freePercent.toFixed(1)
      ])
    ),
    "",
    ...(nodes.length === 0
      ? ["no node holds an address here"]
      : table(
          ["NODE (NEXT HOP)", "PROTOCOL", "ADDRESSES"],
          nodes.map((n) => [
            nodeCell(n),
            n.protocols.map((p) => formatProtocol(p, naming)).join(", "),
            String(n.addresses)
          ]),
          2
        ))
  ].join("\n")
