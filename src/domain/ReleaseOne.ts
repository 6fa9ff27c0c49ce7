// An operator frees one address: only a route of ours that no live record names, or (forced) on behalf of its one owner.
import * as Effect from "effect/Effect"
import { type Attachment, Attachments, type AttachmentsError } from "./Attachments.ts"
import { equals, type Ip, keyOf } from "./Ip.ts"
import { type NodeLockTimeout, ownerLockName, withNodeLock } from "./NodeLock.ts"
import {
  type Holdings,
  namedBy,
  quarantineHolder,
  readHoldings,
  releaseOnBehalf,
  releaseOrphans
} from "./Ownership.ts"
import { isOurs } from "./Route.ts"
import { RouteTable, type RouteTableError } from "./RouteTable.ts"

/** What releasing one address means, decided from one read of the records and of the routes to it. */
export type ReleaseDecision =
  /** A route of ours that no live or quarantined record names (records of another boot name nothing). */
  | { readonly _tag: "ReleaseOrphan" }
  /** `force`: release on behalf of the one live record that names it, and drop it from that record. */
  | { readonly _tag: "ReleaseForOwner"; readonly owner: Attachment }
  /** No route of ours and no record names it: nothing of this node's to free. */
  | { readonly _tag: "NothingToRelease" }
  /** A live container holds it (without `force`). */
  | { readonly _tag: "Owned"; readonly owner: Attachment }
  /** Several live records name it: no single owner to release it for. */
  | { readonly _tag: "SeveralOwners"; readonly owners: ReadonlyArray<Attachment> }
  /** A record moved aside as corrupt names it: it stays held until an operator removes that file. */
  | { readonly _tag: "Quarantined" }

/**
 * Decide, purely, what `release --ip` may do with `address`. The route is released only when the
 * release rule allows it: as an orphan (no record of this boot names it), or with `force` on
 * behalf of its single owner record. A corrupt record's addresses are never freed here.
 */
export const decideRelease = (input: {
  readonly address: Ip
  readonly routeOfOurs: boolean
  readonly holdings: Holdings
  readonly force: boolean
}): ReleaseDecision => {
  const holders = input.holdings.holders.get(keyOf(input.address)) ?? []
  if (holders.includes(quarantineHolder)) return { _tag: "Quarantined" }
  const owners = input.holdings.live.filter((record) =>
    namedBy(record).some((named) => equals(named, input.address))
  )
  if (owners.length > 1) return { _tag: "SeveralOwners", owners }
  const [owner] = owners
  if (owner !== undefined) return input.force ? { _tag: "ReleaseForOwner", owner } : { _tag: "Owned", owner }
  return input.routeOfOurs ? { _tag: "ReleaseOrphan" } : { _tag: "NothingToRelease" }
}

/** `record` without `address` (in addresses and pending alike). */
export const withoutAddress = (record: Attachment, address: Ip): Attachment => ({
  ...record,
  addresses: record.addresses.filter((a) => !equals(a, address)),
  pending: record.pending.filter((a) => !equals(a, address))
})

/** What `releaseOne` decided and did. */
export interface ReleaseOneOutcome {
  readonly decision: ReleaseDecision
  /** Whether our route was released (false for a dry run and for every refusal). */
  readonly released: boolean
  /** With ReleaseForOwner (not dry): the owner record afterwards; "removed" when it named nothing else. */
  readonly record: Attachment | "removed" | undefined
}

/**
 * Free one address of `network` on this node, under the network's NodeLock: read the records and
 * the routes to it, decide (`decideRelease`), and, unless `dryRun`, act through the release rule
 * (releaseOrphans / releaseOnBehalf, which re-read the records under the same lock hold).
 */
export const releaseOne = (
  network: string,
  address: Ip,
  options: { readonly force: boolean; readonly dryRun: boolean }
): Effect.Effect<
  ReleaseOneOutcome,
  RouteTableError | AttachmentsError | NodeLockTimeout,
  RouteTable | Attachments
> =>
  withNodeLock(
    network,
    Effect.gen(function* () {
      const table = yield* RouteTable
      const store = yield* Attachments
      const holdings = yield* readHoldings(network)
      const routes = yield* table.routesTo(address)
      const decision = decideRelease({
        address,
        routeOfOurs: routes.some(isOurs),
        holdings,
        force: options.force
      })
      const untouched: ReleaseOneOutcome = { decision, released: false, record: undefined }
      if (options.dryRun) return untouched
      switch (decision._tag) {
        case "ReleaseOrphan": {
          const released = yield* releaseOrphans(network, [address])
          return { ...untouched, released: released.length > 0 }
        }
        case "ReleaseForOwner":
          // the owner's record is rewritten: under the owner's lock, as every writer of it does
          return yield* withNodeLock(
            ownerLockName(network, decision.owner),
            Effect.gen(function* () {
              const result = yield* releaseOnBehalf(network, decision.owner, [address])
              if (result.released.length === 0) return untouched
              const current = yield* store.get(decision.owner)
              if (current === undefined) return { ...untouched, released: true }
              const rest = withoutAddress(current, address)
              if (namedBy(rest).length === 0) {
                yield* store.remove(rest)
                return { ...untouched, released: true, record: "removed" as const }
              }
              yield* store.put(rest)
              return { ...untouched, released: true, record: rest }
            })
          )
        default:
          return untouched
      }
    })
  )
