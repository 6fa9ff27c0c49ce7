// `list --ip ADDR`: who holds one address, as this node sees it (like `calicoctl ipam show --ip`).
import { formatPod } from "../../domain/Attachments.ts"
import { formatIp, type Ip, keyOf } from "../../domain/Ip.ts"
import { isOurs } from "../../domain/Route.ts"
import type { CountedPool } from "./Capacity.ts"
import {
  type Claim,
  type ClaimListing,
  type ClaimOwner,
  type DeviceNames,
  isThisNodes,
  listingToJson,
  originOf
} from "./ClaimListing.ts"
import { formatNextHop, formatProtocol, type ListingNames, numbersOnly } from "./ListingNames.ts"

/** The answer for one address. */
export interface AddressHolder {
  readonly address: Ip
  /** Labels of the pools the address is allocatable in (empty: not one this network hands out). */
  readonly pools: ReadonlyArray<string>
  /** undefined: no route to it and no record names it. */
  readonly claim: Claim | undefined
  /** "this node", "another node", "this node and another node" (a conflict), or "nobody". */
  readonly heldBy: string
  /** What makes a route ours (and so which routes are the Go plugin's legacy ones). */
  readonly ours: Pick<ClaimListing, "protocol" | "table" | "metric">
}

/** Look the address up in a listing (the listing must cover its subnet). */
export const holderOf = (
  listing: ClaimListing,
  address: Ip,
  pools: ReadonlyArray<CountedPool>
): AddressHolder => {
  const claim = listing.claims.find((c) => keyOf(c.address) === keyOf(address))
  const here = claim?.routes.some((r) => isThisNodes(r, listing)) ?? false
  const elsewhere = claim?.routes.some((r) => !isThisNodes(r, listing)) ?? false
  return {
    address,
    pools: pools.filter((p) => p.contains(address)).map((p) => p.label),
    claim,
    ours: { protocol: listing.protocol, table: listing.table, metric: listing.metric },
    heldBy:
      here && elsewhere
        ? "this node and another node"
        : here
          ? "this node"
          : elsewhere
            ? "another node"
            : "nobody"
  }
}

const ownerText = (owner: ClaimOwner): string =>
  `${owner.pod === undefined ? "" : `pod ${formatPod(owner.pod)}, `}${owner.network}/${owner.containerId}/${owner.ifname}${owner.pending ? " (pending: an ADD in progress or crashed)" : ""}${owner.state === undefined ? "" : ` (${owner.state} record)`}`

/** A few lines for a terminal (with `naming`: next hop as `node-b (198.18.0.2)`, protocol as `bird (12)`). */
export const formatHolder = (
  holder: AddressHolder,
  names: DeviceNames,
  naming: ListingNames = numbersOnly
): string => {
  const lines = [
    `${formatIp(holder.address)}: held by ${holder.heldBy}`,
    `  pool:     ${holder.pools.length === 0 ? "none of this network's pools (never handed out)" : holder.pools.join(", ")}`
  ]
  const claim = holder.claim
  for (const route of claim?.routes ?? []) {
    const device = route.device === undefined ? "-" : (names.get(route.device) ?? `#${route.device}`)
    lines.push(
      isOurs(route)
        ? `  route:    ours (this node), protocol ${formatProtocol(route.protocol, naming)}, table ${route.table}, metric ${route.metric}, device ${device}`
        : originOf(route, holder.ours) === "legacy"
          ? `  route:    legacy (the original Go plugin's, this node), protocol ${formatProtocol(route.protocol, naming)}, table ${route.table}, metric ${route.metric}, device ${device}; \`migrate\` adopts it`
          : `  route:    learned, next hop ${route.nextHop === undefined ? "-" : formatNextHop(route.nextHop, naming)} (the node holding it), protocol ${formatProtocol(route.protocol, naming)}, metric ${route.metric}, device ${device}`
    )
  }
  if (claim === undefined || claim.routes.length === 0) lines.push("  route:    none")
  lines.push(
    `  owner:    ${claim?.owner === undefined ? "no owner record on this node" : ownerText(claim.owner)}`
  )
  lines.push(
    `  problems: ${claim === undefined || claim.problems.length === 0 ? "none" : claim.problems.join(", ")}`
  )
  return lines.join("\n")
}

/** JSON: {address, heldBy, pools, routes, owner, problems} (routes and owner as in `list --json`). */
export const holderToJson = (
  holder: AddressHolder,
  listing: ClaimListing,
  names: DeviceNames,
  naming: ListingNames = numbersOnly
) => {
  const listed = listingToJson(
    { ...listing, claims: holder.claim === undefined ? [] : [holder.claim] },
    names,
    naming
  )
  const claim = listed.claims[0]
  return {
    address: formatIp(holder.address),
    heldBy: holder.heldBy,
    pools: holder.pools,
    routes: claim?.routes ?? [],
    owner: claim?.owner ?? null,
    problems: claim?.problems ?? []
  }
}
