// Totals of a listing: per pool (allocatable, in use here, in use elsewhere, free %) and per node (next hop).
import { formatIp, type Ip } from "../../domain/Ip.ts"
import { type ClaimListing, isThisNodes } from "./ClaimListing.ts"

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

/** Addresses per node: each route counts for the node it points at (a conflict counts on both sides). */
export const nodeTotals = (listing: ClaimListing): ReadonlyArray<NodeTotals> => {
  const counts = new Map<string, number>()
  for (const claim of listing.claims) {
    const nodes = new Set(
      claim.routes.map((route) =>
        isThisNodes(route, listing) ? thisNode : route.nextHop === undefined ? "-" : formatIp(route.nextHop)
      )
    )
    for (const node of nodes) counts.set(node, (counts.get(node) ?? 0) + 1)
  }
  return [...counts.entries()]
    .map(([node, addresses]) => ({ node, addresses }))
    .sort((a, b) => (a.node === thisNode ? -1 : b.node === thisNode ? 1 : a.node.localeCompare(b.node)))
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

/** The totals as two aligned tables (pools, then nodes), as `list` prints them under the claims. */
export const formatTotals = (pools: ReadonlyArray<PoolTotals>, nodes: ReadonlyArray<NodeTotals>): string =>
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
          ["NODE (NEXT HOP)", "ADDRESSES"],
          nodes.map((n) => [n.node, String(n.addresses)])
        ))
  ].join("\n")
