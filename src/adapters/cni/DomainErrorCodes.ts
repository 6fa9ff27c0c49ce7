// Domain failures as CNI errors: which code each one gets and a message naming what went wrong.
import type {
  AddressOutsidePool,
  AddressTaken,
  AttachmentInvalid,
  AttachmentUnknown,
  AttemptsExhausted,
  FabricUnhealthy,
  PoolExhausted
} from "../../domain/AllocationError.ts"
import type { AttachmentsError } from "../../domain/Attachments.ts"
import type { InvalidIdentifier } from "../../domain/ContainerId.ts"
import type { NodeLockTimeout } from "../../domain/NodeLock.ts"
import type { InvalidPool } from "../../domain/Pool.ts"
import type { RouteTableError } from "../../domain/RouteTable.ts"
import { CniCode, type CniError, cniError } from "./CniError.ts"

/** Every domain failure a verb can end with. */
export type DomainError =
  | PoolExhausted
  | AddressTaken
  | AddressOutsidePool
  | AttemptsExhausted
  | FabricUnhealthy
  | NodeLockTimeout
  | AttachmentUnknown
  | AttachmentInvalid
  | RouteTableError
  | AttachmentsError
  | InvalidPool
  | InvalidIdentifier

/**
 * The CNI error for a domain failure (see the table in CniError.ts):
 * PoolExhausted 100, AddressTaken 101, AddressOutsidePool 102, AttemptsExhausted 11,
 * FabricUnhealthy 11, NodeLockTimeout 11,
 * AttachmentUnknown 3, AttachmentInvalid 103, RouteTableError and AttachmentsError 5 (but a
 * RouteTableError of reason DeviceMissing 7, "ipam.device: ..."),
 * InvalidPool 7 ("field: message"), InvalidIdentifier 4 (env values).
 */
export const cniErrorOf = (error: DomainError): CniError => {
  switch (error._tag) {
    case "PoolExhausted":
      return cniError(CniCode.poolExhausted, `no free address left in ${error.pool}`)
    case "AddressTaken":
      return cniError(CniCode.addressTaken, `requested address ${error.address} is taken: ${error.reason}`)
    case "AddressOutsidePool":
      return cniError(
        CniCode.addressOutsidePool,
        `requested address ${error.address} is not one the configured ranges hand out`,
        `ranges: ${error.pools}`
      )
    case "AttemptsExhausted":
      return cniError(
        CniCode.tryAgainLater,
        `every one of ${error.attempts} attempts lost a race with another claim; try again later`,
        `tried: ${error.tried.join(", ")}`
      )
    case "FabricUnhealthy":
      return cniError(
        CniCode.tryAgainLater,
        `fabric unhealthy: ${error.detail}; claims would not reach other nodes, so nothing was allocated; try again later`,
        error.tried.length === 0 ? undefined : `tried: ${error.tried.join(", ")}`
      )
    case "NodeLockTimeout":
      return cniError(
        CniCode.tryAgainLater,
        `another ADD, DEL or GC of network ${error.network} on this node held its lock for ${error.waitedMillis} ms; try again later`
      )
    case "AttachmentUnknown":
      return cniError(
        CniCode.containerUnknown,
        `CNI_CONTAINERID: no addresses are recorded for container ${error.containerId} interface ${error.ifname}`
      )
    case "AttachmentInvalid":
      return cniError(
        CniCode.attachmentInvalid,
        `attachment ${error.containerId}/${error.ifname} is not as expected: ${error.reason}`
      )
    case "RouteTableError":
      // the interface host routes point at does not exist: the node's configuration, not I/O
      if (error.reason === "DeviceMissing")
        return cniError(CniCode.invalidConfig, `ipam.device: ${error.message}`)
      return cniError(CniCode.ioFailure, `routing table: ${error.operation} failed: ${error.message}`)
    case "AttachmentsError":
      // the store lives under ipam.dataDir: the field the operator can do something about
      return cniError(
        CniCode.ioFailure,
        `ipam.dataDir: attachment store: ${error.operation} failed: ${error.message}`
      )
    case "InvalidPool":
      return cniError(CniCode.invalidConfig, `${error.field}: ${error.message}`)
    case "InvalidIdentifier":
      return cniError(CniCode.invalidEnvironment, `${envNameOf(error.field)}: ${error.message}`)
  }
}

const envNameOf = (field: string): string =>
  field === "containerId" ? "CNI_CONTAINERID" : field === "ifname" ? "CNI_IFNAME" : field
