// Migrating from the Go plugin, the decision: what to do with one legacy route (adopt, remove, or leave it) and why. Pure.
import type { PodName } from "./Attachments.ts"
import { compare, equals, type Ip, keyOf } from "./Ip.ts"
import { isLegacy, type RouteOwnership } from "./LegacyRoute.ts"
import { type Holdings, heldByOther, isNamed, ownerKeyOf } from "./Ownership.ts"
import { isOurs, type Route } from "./Route.ts"

/** A container the runtime's CNI result cache names with an address: who the address belongs to. */
export interface KnownContainer {
  readonly containerId: string
  readonly ifname: string
  /** The network name the runtime cached the attachment under (for messages). */
  readonly network: string
  readonly pod?: PodName
}

/** `adopt`: make legacy routes ours; `remove`: delete them. */
export type MigrationMode = "adopt" | "remove"

/**
 * Why a legacy route is left as it is:
 * - UnknownContainer: adopting needs the container (an owner record); no cache entry names the address;
 * - SeveralContainers: several cache entries name it (stale entries): no single owner to record;
 * - HeldByRecord: a record of another container (or one moved aside as corrupt) names it;
 * - Conflict: another node's route to it (or a route of another kind) is there too;
 * - NoDevice: the legacy route has no output interface to put ours on;
 * - KnownContainer: `--remove` of an address whose container the cache names (without force);
 * - NotLegacy: no legacy route to it any more (migrated or removed meanwhile).
 */
export type SkipReason =
  | "UnknownContainer"
  | "SeveralContainers"
  | "HeldByRecord"
  | "Conflict"
  | "NoDevice"
  | "KnownContainer"
  | "NotLegacy"

/** What to do with one legacy address. */
export type MigrationDecision =
  /** Insert our route through `device`, record `owner` as holding the address, delete the legacy route. */
  | { readonly _tag: "Adopt"; readonly owner: KnownContainer; readonly device: number }
  /** Delete the legacy route; `owner` is the container the cache names, when forced. */
  | { readonly _tag: "Remove"; readonly owner: KnownContainer | undefined }
  | { readonly _tag: "Skip"; readonly reason: SkipReason; readonly containers: ReadonlyArray<KnownContainer> }

/** Everything one decision is made from: one read of the routes to the address and of the records. */
export interface MigrationInput {
  readonly network: string
  readonly address: Ip
  /** Every route to the address on this node. */
  readonly routes: ReadonlyArray<Route>
  readonly holdings: Holdings
  /** The cache entries that name the address. */
  readonly containers: ReadonlyArray<KnownContainer>
  readonly ours: RouteOwnership
  readonly mode: MigrationMode
  /** With `remove`: delete even when the cache names a container. */
  readonly force: boolean
}

/**
 * Decide, purely, what migrate does with one address.
 *
 * Adopt only with exactly one known container and no other record naming the address: an adopted
 * route without an owner record would be an orphan, and the next gc would release it while the
 * container still uses the address. An address without a known container stays legacy (it stays
 * held: the picker skips it, gc and DEL never delete it) until its container is known or gone.
 * Remove deletes a legacy route whose container the cache does not name (a leak of the Go plugin,
 * whose DEL failed or never came); a known container's route only when forced.
 */
export const decideMigration = (input: MigrationInput): MigrationDecision => {
  const skip = (reason: SkipReason): MigrationDecision => ({
    _tag: "Skip",
    reason,
    containers: input.containers
  })
  const routes = input.routes.filter((r) => equals(r.host, input.address))
  const legacy = routes.filter((r) => isLegacy(r, input.ours))
  if (legacy.length === 0) return skip("NotLegacy")
  const oursThere = routes.some(isOurs)
  const [only] = input.containers
  if (input.mode === "remove") {
    if (input.containers.length > 0 && !input.force) return skip("KnownContainer")
    // a record that names it without our route: an adoption in progress; removing would leave nothing
    if (!oursThere && isNamed(input.holdings, input.address)) return skip("HeldByRecord")
    return { _tag: "Remove", owner: only }
  }
  if (routes.some((r) => !isOurs(r) && !isLegacy(r, input.ours))) return skip("Conflict")
  if (only === undefined) return skip("UnknownContainer")
  if (input.containers.length > 1) return skip("SeveralContainers")
  const owner = ownerKeyOf({ containerId: only.containerId, ifname: only.ifname })
  if (heldByOther(input.holdings, input.address, owner)) return skip("HeldByRecord")
  const device = legacy.find((r) => r.device !== undefined)?.device
  if (device === undefined) return skip("NoDevice")
  return { _tag: "Adopt", owner: only, device }
}

/** The legacy addresses among `routes`, once each, in address order. */
export const legacyAddresses = (routes: ReadonlyArray<Route>, ours: RouteOwnership): ReadonlyArray<Ip> => {
  const seen = new Map<string, Ip>()
  for (const route of routes) if (isLegacy(route, ours)) seen.set(keyOf(route.host), route.host)
  return [...seen.values()].sort(compare)
}
