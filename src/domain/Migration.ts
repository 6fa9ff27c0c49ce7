// Migrating from the Go plugin, the doing: each legacy address adopted or removed under its node lock, in a crash-safe order.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { type Attachment, type AttachmentKey, Attachments, type AttachmentsError } from "./Attachments.ts"
import { type Cidr, equals, formatCidr, hostPrefixOf, type Ip } from "./Ip.ts"
import { LegacyRoutes, type RouteOwnership } from "./LegacyRoute.ts"
import {
  decideMigration,
  type KnownContainer,
  legacyAddresses,
  type MigrationDecision,
  type MigrationMode
} from "./MigrationDecision.ts"
import type { Network } from "./Network.ts"
import { addressLockName, type NodeLockTimeout, ownerLockName, withNodeLock } from "./NodeLock.ts"
import { isStale, namedBy, readHoldings } from "./Ownership.ts"
import { subnetsOf } from "./Pool.ts"
import { isOurs, type Route } from "./Route.ts"
import { HostTaken, RouteTable, type RouteTableError } from "./RouteTable.ts"

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
 * Migrate one address under its owner's lock (when one container is known) and its node lock (addressLockName, like every path that reads records and
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
> => {
  // Adopting writes the container's record: under its owner's lock, taken before the address's
  // (the order ADD and DEL take them in). With several or no containers nothing is written.
  const [only] = containers
  const ownerLocked = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    containers.length === 1 && only !== undefined
      ? withNodeLock(ownerLockName(network, only), effect)
      : effect
  return ownerLocked(
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
    )
  ).pipe(Effect.uninterruptible)
}

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
