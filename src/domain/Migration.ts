// Migrating from the Go plugin: what to do with each legacy route (adopt, remove, skip and why), then doing it crash-safely.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import {
  type Attachment,
  type AttachmentKey,
  Attachments,
  type AttachmentsError,
  type PodName
} from "./Attachments.ts"
import { type Cidr, compare, equals, formatCidr, hostPrefixOf, type Ip, keyOf } from "./Ip.ts"
import { isLegacy, LegacyRoutes, type RouteOwnership } from "./LegacyRoute.ts"
import type { Network } from "./Network.ts"
import { addressLockName, type NodeLockTimeout, withNodeLock } from "./NodeLock.ts"
import {
  type Holdings,
  heldByOther,
  isNamed,
  isStale,
  namedBy,
  ownerKeyOf,
  readHoldings
} from "./Ownership.ts"
import { subnetsOf } from "./Pool.ts"
import { isOurs, type Route } from "./Route.ts"
import { HostTaken, RouteTable, type RouteTableError } from "./RouteTable.ts"

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

/** What migrate decided and did for one address. */
export interface MigrationStep {
  readonly address: Ip
  readonly decision: MigrationDecision
  /** Whether the decision was carried out (false for a dry run, a skip, and a failure). */
  readonly done: boolean
  /** Something the step found and repaired on the way. */
  readonly note?: string
  /** Why the step failed (the legacy route, or ours, still holds the address). */
  readonly error?: string
}

/** How migrate runs. */
export interface MigrationOptions {
  readonly mode: MigrationMode
  readonly force: boolean
  readonly dryRun: boolean
}

/** The legacy addresses among `routes`, once each, in address order. */
export const legacyAddresses = (routes: ReadonlyArray<Route>, ours: RouteOwnership): ReadonlyArray<Ip> => {
  const seen = new Map<string, Ip>()
  for (const route of routes) if (isLegacy(route, ours)) seen.set(keyOf(route.host), route.host)
  return [...seen.values()].sort(compare)
}

/** `record` with `address` as pending (intent) or confirmed, stamped with this boot and the current time. */
const withAddress = (
  record: Attachment,
  address: Ip,
  as: "pending" | "confirmed"
): Effect.Effect<Attachment, AttachmentsError, Attachments> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const others = (list: ReadonlyArray<Ip>) => list.filter((a) => !equals(a, address))
    return {
      ...record,
      addresses: as === "confirmed" ? [...others(record.addresses), address] : record.addresses,
      pending: as === "pending" ? [...others(record.pending), address] : others(record.pending),
      boot: yield* store.boot,
      writtenAt: yield* Clock.currentTimeMillis
    }
  })

/** Every route to exactly `address` (one dump: a lookup shows only the best route). */
const routesToHost = (address: Ip): Effect.Effect<ReadonlyArray<Route>, RouteTableError, RouteTable> =>
  RouteTable.use((table) => table.hostRoutesIn(hostPrefixOf(address)))

/** After deleting the legacy route, our route must still be there; if the kernel took it instead, insert it again. */
const keepOurs = (
  address: Ip,
  device: number
): Effect.Effect<string | undefined, RouteTableError, RouteTable | LegacyRoutes> =>
  Effect.gen(function* () {
    if ((yield* routesToHost(address)).some(isOurs)) return undefined
    const legacy = yield* LegacyRoutes
    yield* legacy.adopt(address, device).pipe(Effect.catchTag("HostTaken", () => Effect.void))
    return "our route went with the legacy one (the kernel matched the delete to it); inserted it again"
  })

/**
 * Adopt, in an order that leaves the address held by the legacy route or ours at every line, and
 * every route of ours explained by a record (DESIGN.md invariants 2 and 3):
 * 1. the owner record names the address as pending (intent; a crash leaves a pending record that
 *    gc releases after its grace period: it deletes only our route, the legacy one stays);
 * 2. our route is inserted beside the legacy one (HostTaken: a crashed earlier run inserted it);
 * 3. the record confirms the address (from now on DEL of the container releases it);
 * 4. the legacy route is deleted, and our route checked (see LegacyRoutes' Gotchas).
 */
const adopt = (
  network: string,
  address: Ip,
  owner: KnownContainer,
  device: number,
  routes: ReadonlyArray<Route>
): Effect.Effect<
  string | undefined,
  RouteTableError | AttachmentsError,
  RouteTable | Attachments | LegacyRoutes
> =>
  Effect.gen(function* () {
    const store = yield* Attachments
    const legacy = yield* LegacyRoutes
    const key: AttachmentKey = { network, containerId: owner.containerId, ifname: owner.ifname }
    const current = yield* store.get(key)
    const boot = yield* store.boot
    const base: Attachment =
      current !== undefined && !isStale(current, boot)
        ? current
        : { ...key, addresses: [], pending: [], ...(owner.pod === undefined ? {} : { pod: owner.pod }) }
    const named = namedBy(base).some((a) => equals(a, address))
    const intent = named ? base : yield* withAddress(base, address, "pending")
    if (!named) yield* store.put(intent)
    if (!routes.some(isOurs))
      yield* legacy.adopt(address, device).pipe(
        Effect.catchIf(
          (e) => e instanceof HostTaken,
          () => Effect.void
        )
      )
    yield* store.put(yield* withAddress(intent, address, "confirmed"))
    yield* legacy.remove(address)
    return yield* keepOurs(address, device)
  })

/** Remove the legacy route; if our route was there too, it must still be afterwards. */
const remove = (
  address: Ip,
  routes: ReadonlyArray<Route>
): Effect.Effect<string | undefined, RouteTableError, RouteTable | LegacyRoutes> =>
  Effect.gen(function* () {
    const legacy = yield* LegacyRoutes
    const ours = routes.find(isOurs)
    yield* legacy.remove(address)
    const device = ours?.device ?? routes.find((r) => r.device !== undefined)?.device
    return ours === undefined || device === undefined ? undefined : yield* keepOurs(address, device)
  })

/**
 * Migrate one address under its node lock (addressLockName, like every path that reads records and
 * changes routes): read its routes and the records again, decide again (the plan may be stale),
 * and carry the decision out without interruption.
 */
export const migrateAddress = (
  network: string,
  address: Ip,
  containers: ReadonlyArray<KnownContainer>,
  ours: RouteOwnership,
  options: MigrationOptions
): Effect.Effect<
  MigrationStep,
  RouteTableError | AttachmentsError | NodeLockTimeout,
  RouteTable | Attachments | LegacyRoutes
> =>
  withNodeLock(
    addressLockName(network, address),
    Effect.gen(function* () {
      const routes = yield* routesToHost(address)
      const holdings = yield* readHoldings(network)
      const decision = decideMigration({ network, address, routes, holdings, containers, ours, ...options })
      const note =
        decision._tag === "Adopt"
          ? yield* adopt(network, address, decision.owner, decision.device, routes)
          : decision._tag === "Remove"
            ? yield* remove(address, routes)
            : undefined
      return {
        address,
        decision,
        done: decision._tag !== "Skip",
        ...(note === undefined ? {} : { note })
      } satisfies MigrationStep
    })
  ).pipe(Effect.uninterruptible)

/** What a migration of one network decided and did. */
export interface MigrationReport {
  readonly subnets: ReadonlyArray<Cidr>
  readonly steps: ReadonlyArray<MigrationStep>
}

/**
 * Migrate every legacy route inside the network's subnets on this node. Plans from one read of
 * the table and the records (all a dry run does), then migrates address by address, each under
 * its own lock with a fresh decision. Keeps going when one address fails and reports it.
 */
export const migrateLegacy = (
  network: Network,
  ours: RouteOwnership,
  containersOf: (address: Ip) => ReadonlyArray<KnownContainer>,
  options: MigrationOptions
): Effect.Effect<
  MigrationReport,
  RouteTableError | AttachmentsError,
  RouteTable | Attachments | LegacyRoutes
> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    const subnets = new Map<string, Cidr>()
    for (const subnet of network.pools.flatMap(subnetsOf)) subnets.set(formatCidr(subnet), subnet)
    const routes = (yield* Effect.forEach(subnets.values(), (subnet) => table.hostRoutesIn(subnet))).flat()
    const holdings = yield* readHoldings(network.name)
    const steps: Array<MigrationStep> = []
    for (const address of legacyAddresses(routes, ours)) {
      const containers = containersOf(address)
      const planned = decideMigration({
        network: network.name,
        address,
        routes,
        holdings,
        containers,
        ours,
        ...options
      })
      if (options.dryRun) {
        steps.push({ address, decision: planned, done: false })
        continue
      }
      steps.push(
        yield* migrateAddress(network.name, address, containers, ours, options).pipe(
          Effect.catch((e) =>
            Effect.succeed<MigrationStep>({
              address,
              decision: planned,
              done: false,
              error:
                e._tag === "NodeLockTimeout"
                  ? `the node lock was busy for ${e.waitedMillis} ms`
                  : `${e.operation} failed: ${e.message}`
            })
          )
        )
      )
    }
    return { subnets: [...subnets.values()], steps }
  })
