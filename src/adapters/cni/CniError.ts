// The CNI error object and the table of error codes this plugin uses.
import * as Data from "effect/Data"

/**
 * Error codes (the `code` of the error JSON; the process exits with the same number, except 999).
 *
 * | code | meaning (spec codes 1-99, ours from 100) |
 * | --- | --- |
 * | 1 | incompatible cniVersion (unknown version; CHECK before 0.4.0; GC/STATUS before 1.1.0) |
 * | 2 | unsupported field in the network config (not used: unknown ipam keys are ignored, as host-local does; near misses of known keys are 7) |
 * | 3 | container unknown: CHECK for an attachment this node has no record of |
 * | 4 | invalid environment: CNI_COMMAND, CNI_CONTAINERID (also > 234 chars), CNI_IFNAME (also not UTF-8), CNI_NETNS, CNI_ARGS (unknown key, bad pair or value) |
 * | 5 | I/O failure: the routing table (netlink) or the attachment store could not be read or written |
 * | 6 | failed to decode: stdin is not JSON, too large, nested deeper than 512 levels, or a field has the wrong JSON type |
 * | 7 | invalid network config: a value is wrong (bad CIDR, host bits set, reserved routeProtocol, W below 20 ms, metric <= 1024, a misspelt key, ...) |
 * | 11 | try again later: every claim attempt lost a race with another node, or the fabric is unhealthy (ADD) |
 * | 50 | STATUS: cannot serve ADD (a pool is exhausted, or the routing table cannot be read) |
 * | 51 | STATUS: the fabric is unhealthy (claims may not propagate; existing pods may have limited connectivity) |
 * | 100 | pool exhausted: no free address in a range set |
 * | 101 | requested address taken (by another container, another node, or any other route) |
 * | 102 | requested address outside the configured pools (or excluded) |
 * | 103 | CHECK: the attachment is not as expected (address not recorded, our route missing or contested) |
 * | 999 | internal error (a bug); the process exits with 1 |
 */
export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  containerUnknown: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  statusUnavailable: 50,
  statusLimitedConnectivity: 51,
  poolExhausted: 100,
  addressTaken: 101,
  addressOutsidePool: 102,
  attachmentInvalid: 103,
  internal: 999
} as const

/** A failure reported to the runtime as the CNI error object; `msg` starts with the offending field. */
export class CniError extends Data.TaggedError("CniError")<{
  readonly code: number
  readonly msg: string
  readonly details?: string
}> {}

/** Shorthand constructor: `cniError(7, "ipam.subnet: not a CIDR")`. */
export const cniError = (code: number, msg: string, details?: string): CniError =>
  details === undefined ? new CniError({ code, msg }) : new CniError({ code, msg, details })

/** The error object as the spec's JSON (`details` only when there are some). */
export const encodeCniError = (
  cniVersion: string,
  error: CniError
): { cniVersion: string; code: number; msg: string; details?: string } =>
  error.details === undefined
    ? { cniVersion, code: error.code, msg: error.msg }
    : { cniVersion, code: error.code, msg: error.msg, details: error.details }

/** The process exit status for a CNI code: the code itself when it fits in 1..255, else 1. */
export const exitStatusOf = (code: number): number => (code >= 1 && code <= 255 ? code : 1)
