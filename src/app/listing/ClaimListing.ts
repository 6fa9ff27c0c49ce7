// Claims of a network as this node's table shows them, grouped by address with owners and problems; as text or JSON.
import { type Attachment, formatPod, type PodName, type QuarantinedRecord } from "../../domain/Attachments.ts"
import { isStale } from "../../domain/Ownership.ts"
import { type Cidr, compare, contains, formatCidr, formatIp, type Ip, keyOf } from "../../domain/Ip.ts"
import { isLegacy } from "../../domain/LegacyRoute.ts"
import { isOurs, type Route } from "../../domain/Route.ts"
import {
  formatNextHop,
  formatProtocol,
  type ListingNames,
  nodeNameOf,
  numbersOnly,
  protocolNameOf
} from "./ListingNames.ts"

/** Who holds an address according to the owner records on this node. */
export interface ClaimOwner {
  readonly network: string
  readonly containerId: string
  readonly ifname: string
  /** The pod the runtime named when the record was written (K8S_POD_NAMESPACE/K8S_POD_NAME). */
  readonly pod?: PodName
  /** Listed as pending: an ADD was in progress (or died) when the record was written. */
  readonly pending: boolean
  /**
   * "stale": the record was written before this node's last reboot (it explains no route now);
   * "corrupt": the record could not be read and was moved aside (the address stays held).
   */
  readonly state?: "stale" | "corrupt"
}

/**
 * What is wrong with an address:
 * - conflict: more than one route to it (two nodes claim it, or a route of another kind as well);
 * - orphan: a route of ours that no owner record explains (GC releases it);
 * - missing: an owner record names it but our route is gone;
 * - stale: only a record of before the last reboot names it (DEL or gc forgets that record);
 * - corrupt: a record moved aside as corrupt names it (held until an operator removes the file);
 * - legacy: a route of the original Go plugin on this node holds it (`migrate` adopts it).
 */
export type ClaimProblem = "conflict" | "orphan" | "missing" | "stale" | "corrupt" | "legacy"

/** One address: every route to it, its owner on this node, and what is wrong. */
export interface Claim {
  readonly address: Ip
  readonly routes: ReadonlyArray<Route>
  readonly owner: ClaimOwner | undefined
  readonly problems: ReadonlyArray<ClaimProblem>
}

/** Counts for the summary line. */
export interface ClaimSummary {
  /** Routes of ours. */
  readonly ours: number
  /** Routes of any other origin (a routing daemon, static, another protocol), legacy ones excepted. */
  readonly learned: number
  readonly conflicts: number
  readonly orphans: number
  readonly missing: number
  readonly stale: number
  readonly corrupt: number
  /** Addresses held by a route of the original Go plugin on this node. */
  readonly legacy: number
}

/** What `list` shows for one network (or a set of pools). */
export interface ClaimListing {
  readonly network: string | undefined
  readonly subnets: ReadonlyArray<Cidr>
  /** What makes a route ours. */
  readonly protocol: number
  readonly table: number
  readonly metric: number
  readonly claims: ReadonlyArray<Claim>
  readonly summary: ClaimSummary
}

/** What the listing is made from: the table's host routes in the subnets, and the owner records. */
export interface ListingInput {
  readonly network: string | undefined
  readonly subnets: ReadonlyArray<Cidr>
  readonly protocol: number
  readonly table: number
  readonly metric: number
  readonly routes: ReadonlyArray<Route>
  readonly records: ReadonlyArray<Attachment>
  /** This node's boot: records of another one are stale. Undefined: none is. */
  readonly boot?: string
  readonly quarantined?: ReadonlyArray<QuarantinedRecord>
}

/**
 * Group routes by address (inside `subnets` only), attach owners from the records, and flag
 * conflicts, orphans and record addresses without our route. Sorted by address; a route listed
 * twice (e.g. two overlapping subnets) counts once.
 */
export const listClaims = (input: ListingInput): ClaimListing => {
  const inside = (address: Ip) => input.subnets.some((subnet) => contains(subnet, address))
  const byAddress = new Map<string, { address: Ip; routes: Array<Route> }>()
  const seen = new Set<string>()
  for (const route of input.routes) {
    if (!inside(route.host)) continue
    const identity = JSON.stringify([
      keyOf(route.host),
      route.origin,
      route.protocol,
      route.table,
      route.metric,
      route.device ?? null,
      route.nextHop === undefined ? null : keyOf(route.nextHop)
    ])
    if (seen.has(identity)) continue
    seen.add(identity)
    const key = keyOf(route.host)
    const entry = byAddress.get(key) ?? { address: route.host, routes: [] }
    entry.routes.push(route)
    byAddress.set(key, entry)
  }
  const owners = new Map<string, ClaimOwner>()
  const live = input.records.filter((r) => input.boot === undefined || !isStale(r, input.boot))
  const stale = input.records.filter((r) => input.boot !== undefined && isStale(r, input.boot))
  const corrupt: Array<Attachment> = (input.quarantined ?? []).map((q) => {
    const [containerId = q.name, ifname = "?"] = q.name
      .replace(/^\.corrupt\./, "")
      .replace(/\.json\.\d+$/, "")
      .split("@")
    return { network: q.network, containerId, ifname, addresses: q.addresses, pending: [] }
  })
  const ordered: ReadonlyArray<readonly [Attachment, ClaimOwner["state"]]> = [
    ...stale.map((r) => [r, "stale"] as const),
    ...corrupt.map((r) => [r, "corrupt"] as const),
    ...live.map((r) => [r, undefined] as const)
  ]
  for (const [record, state] of ordered) {
    const owner = (pending: boolean): ClaimOwner => ({
      network: record.network,
      containerId: record.containerId,
      ifname: record.ifname,
      ...(record.pod === undefined ? {} : { pod: record.pod }),
      pending,
      ...(state === undefined ? {} : { state })
    })
    for (const address of record.addresses) if (inside(address)) owners.set(keyOf(address), owner(false))
    for (const address of record.pending) {
      if (!inside(address)) continue
      if (!owners.has(keyOf(address))) owners.set(keyOf(address), owner(true))
      if (!byAddress.has(keyOf(address))) byAddress.set(keyOf(address), { address, routes: [] })
    }
    for (const address of record.addresses) {
      if (inside(address) && !byAddress.has(keyOf(address)))
        byAddress.set(keyOf(address), { address, routes: [] })
    }
  }
  const claims = [...byAddress.entries()]
    .map(([key, { address, routes }]): Claim => {
      const owner = owners.get(key)
      const ours = routes.some(isOurs)
      const legacy = routes.some((r) => isLegacy(r, input))
      const problems: Array<ClaimProblem> = []
      // a legacy route beside ours is this node's own migration in progress, not a second claimant
      const claimants = ours ? routes.filter((r) => !isLegacy(r, input)) : routes
      if (claimants.length > 1) problems.push("conflict")
      if (ours && owner === undefined) problems.push("orphan")
      if (!ours && owner !== undefined && owner.state === undefined) problems.push("missing")
      if (owner?.state !== undefined) problems.push(owner.state)
      if (legacy) problems.push("legacy")
      const sorted = [...routes].sort((a, b) => (isOurs(a) === isOurs(b) ? 0 : isOurs(a) ? -1 : 1))
      return { address, routes: sorted, owner, problems }
    })
    .sort((a, b) => compare(a.address, b.address))
  const count = (problem: ClaimProblem) => claims.filter((c) => c.problems.includes(problem)).length
  const routes = claims.flatMap((c) => c.routes)
  return {
    network: input.network,
    subnets: input.subnets,
    protocol: input.protocol,
    table: input.table,
    metric: input.metric,
    claims,
    summary: {
      ours: routes.filter(isOurs).length,
      learned: routes.filter((r) => !isOurs(r) && !isLegacy(r, input)).length,
      conflicts: count("conflict"),
      orphans: count("orphan"),
      missing: count("missing"),
      stale: count("stale"),
      corrupt: count("corrupt"),
      legacy: count("legacy")
    }
  }
}

/** How a route is shown: ours, legacy (the Go plugin's, on this node) or learned (anything else). */
export const originOf = (route: Route, listing: Pick<ClaimListing, "protocol" | "table" | "metric">) =>
  isOurs(route) ? "ours" : isLegacy(route, listing) ? "legacy" : "learned"

/** Whether the route is this node's: ours, or the Go plugin's legacy route. */
export const isThisNodes = (route: Route, listing: Pick<ClaimListing, "protocol" | "table" | "metric">) =>
  isOurs(route) || isLegacy(route, listing)

/** Interface names by index, for the DEVICE column (an unknown index prints as "#N"). */
export type DeviceNames = ReadonlyMap<number, string>

const deviceOf = (route: Route, names: DeviceNames): string | number | null =>
  route.device === undefined ? null : (names.get(route.device) ?? route.device)

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** "3 ours, 1 learned, 1 conflict, 0 orphans, 0 missing" (", 1 stale, 1 corrupt" when there are). */
export const formatSummary = (summary: ClaimSummary): string =>
  `${summary.ours} ours, ${summary.learned} learned, ${plural(summary.conflicts, "conflict")}, ` +
  `${plural(summary.orphans, "orphan")}, ${summary.missing} missing` +
  (summary.stale > 0 ? `, ${summary.stale} stale` : "") +
  (summary.corrupt > 0 ? `, ${summary.corrupt} corrupt` : "") +
  (summary.legacy > 0 ? `, ${summary.legacy} legacy` : "")

/**
 * The OWNER cell: `namespace/name ifname` when the runtime named the pod (a 64-character container
 * ID alone makes a 150-column table; --json keeps the ID), else `containerId/ifname`.
 */
const ownerText = (owner: ClaimOwner | undefined, showNetwork: boolean): string => {
  if (owner === undefined) return "-"
  const who =
    owner.pod === undefined
      ? `${showNetwork ? `${owner.network}/` : ""}${owner.containerId}/${owner.ifname}`
      : `${showNetwork ? `${owner.network}: ` : ""}${formatPod(owner.pod)} ${owner.ifname}`
  return `${who}${owner.pending ? " (pending)" : ""}${owner.state === undefined ? "" : ` (${owner.state})`}`
}

/**
 * The readable form: a header naming the network and what "ours" means, one aligned row per
 * route (an address without our route but with an owner record gets a row too), the summary line.
 * With `naming`, a next hop shows as `node-b (198.18.0.2)` and a protocol as `bird (12)`.
 */
export const formatTable = (
  listing: ClaimListing,
  names: DeviceNames,
  naming: ListingNames = numbersOnly
): string => {
  const showNetwork = new Set(listing.claims.flatMap((c) => (c.owner ? [c.owner.network] : []))).size > 1
  const header = ["ADDRESS", "ORIGIN", "NEXT HOP", "PROTO", "METRIC", "DEVICE", "OWNER", "PROBLEMS"]
  const rows: Array<ReadonlyArray<string>> = []
  for (const claim of listing.claims) {
    const owner = ownerText(claim.owner, showNetwork)
    const problems = claim.problems.join(",")
    const address = formatIp(claim.address)
    if (claim.routes.length === 0) rows.push([address, "-", "-", "-", "-", "-", owner, problems])
    for (const route of claim.routes) {
      const ours = isOurs(route)
      const device = deviceOf(route, names)
      rows.push([
        address,
        originOf(route, listing),
        isThisNodes(route, listing)
          ? "this node"
          : route.nextHop === undefined
            ? "-"
            : formatNextHop(route.nextHop, naming),
        formatProtocol(route.protocol, naming),
        String(route.metric),
        device === null ? "-" : typeof device === "number" ? `#${device}` : device,
        ours ? owner : "-",
        problems
      ])
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  const title =
    `${listing.network === undefined ? "pools" : `network ${listing.network}`}: ` +
    `${listing.subnets.map(formatCidr).join(", ")} ` +
    `(ours: protocol ${listing.protocol}, table ${listing.table}, metric ${listing.metric})`
  const body = rows.length === 0 ? ["no host routes in these subnets"] : [line(header), ...rows.map(line)]
  return [title, "", ...body, "", formatSummary(listing.summary)].join("\n")
}

/**
 * The machine form: one JSON-ready object (addresses as text, device as its name when known). A
 * route keeps its raw next hop and protocol number; `nodeName` and `protocolName` are null when unknown.
 */
export const listingToJson = (
  listing: ClaimListing,
  names: DeviceNames,
  naming: ListingNames = numbersOnly
) => ({
  network: listing.network ?? null,
  subnets: listing.subnets.map(formatCidr),
  protocol: listing.protocol,
  table: listing.table,
  metric: listing.metric,
  claims: listing.claims.map((claim) => ({
    address: formatIp(claim.address),
    routes: claim.routes.map((route) => ({
      origin: originOf(route, listing),
      nextHop: route.nextHop === undefined ? null : formatIp(route.nextHop),
      nodeName: route.nextHop === undefined ? null : (nodeNameOf(route.nextHop, naming) ?? null),
      protocol: route.protocol,
      protocolName: protocolNameOf(route.protocol, naming) ?? null,
      table: route.table,
      metric: route.metric,
      device: deviceOf(route, names)
    })),
    owner: claim.owner ?? null,
    problems: claim.problems
  })),
  summary: listing.summary
})
