// Package entry "routetable-ipam": the pure domain (addresses, pools, the claim protocol, ports, errors).
// Nothing here loads the netlink addon or touches the kernel: adapters live in ./netlink and ./testing.

/** Addresses and prefixes as family + bigint: parse, format, contain, compare. */
export * as Ip from "./domain/Ip.ts"
/** Pools: the addresses one range set may hand out (`makePool`), exclusions, lookups. */
export * as Pool from "./domain/Pool.ts"
/** Validation of container IDs, interface names and network names. */
export * as ContainerId from "./domain/ContainerId.ts"
/** The claim protocol's knobs (W, attempts, backoff, tie-break) and their defaults. */
export * as ClaimPolicy from "./domain/ClaimPolicy.ts"
/** The claim protocol for one address: pick, claim, wait W, verify (`claimAddress`). */
export * as Claim from "./domain/Claim.ts"
/** Attachment lifecycles over the ports: `attach`, `detach`, `checkAttachment`, `poolStatus`. */
export * as Attach from "./domain/Attach.ts"
/** Garbage collection: the pure plan (`planCollection`) and `collectGarbage` under the node lock. */
export * as Collection from "./domain/Collection.ts"
/** The one release rule (`releaseOnBehalf`), who names which address (`readHoldings`), boot staleness. */
export * as Ownership from "./domain/Ownership.ts"
/** A host route as a node's table shows it (`Route`, `isOurs`). */
export * as Route from "./domain/Route.ts"

export type { Network } from "./domain/Network.ts"

// Ports: Context.Services an application provides as layers (./netlink for production, ./testing in memory).
export { HostTaken, RouteTable, RouteTableError } from "./domain/RouteTable.ts"
export {
  type Attachment,
  type AttachmentKey,
  Attachments,
  AttachmentsError,
  type QuarantinedRecord
} from "./domain/Attachments.ts"
export { FabricHealth, FabricHealthError, type FabricReport } from "./domain/FabricHealth.ts"
export {
  makeInProcessLock,
  NodeLock,
  type NodeLockService,
  NodeLockTimeout,
  withNodeLock
} from "./domain/NodeLock.ts"

// The domain's typed failures.
export {
  AddressOutsidePool,
  AddressTaken,
  AttachmentInvalid,
  AttachmentUnknown,
  AttemptsExhausted,
  FabricUnhealthy,
  PoolExhausted
} from "./domain/AllocationError.ts"
export { InvalidPool } from "./domain/Pool.ts"
export { InvalidIdentifier } from "./domain/ContainerId.ts"
