// A request the kernel refused, with the errno it answered (read from the NLMSG_ERROR message itself).
import { constants } from "node:os"

/** Errno numbers (positive) of the answers the route table tells apart. */
export const Errno = {
  EEXIST: constants.errno.EEXIST,
  ESRCH: constants.errno.ESRCH,
  ENODEV: constants.errno.ENODEV,
  ENETUNREACH: constants.errno.ENETUNREACH,
  EHOSTUNREACH: constants.errno.EHOSTUNREACH,
  EACCES: constants.errno.EACCES,
  EINVAL: constants.errno.EINVAL
} as const

const errnoNames: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno).map(([name, errno]) => [errno, name])
)

const nameOf = (errno: number): string => errnoNames.get(errno) ?? `errno ${errno}`

/**
 * The kernel answered a request with NLMSG_ERROR and a non-zero error. `errno` is positive
 * (the kernel sends -errno); `code` is its name (`"EEXIST"`), for messages only.
 */
export class KernelRejection extends Error {
  readonly errno: number
  readonly code: string
  constructor(errno: number, request: string) {
    const code = nameOf(errno)
    super(`the kernel refused ${request}: ${code}`)
    this.name = "KernelRejection"
    this.errno = errno
    this.code = code
  }
}

/** The errno of a request the kernel refused, if that is what failed. */
export const errnoOf = (cause: unknown): number | undefined =>
  cause instanceof KernelRejection ? cause.errno : undefined

/** A human-readable description of any failure, for RouteTableError.message. */
export const describeFailure = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)

/**
 * What the errno of a failed route LOOKUP (RTM_GETROUTE without DUMP) says about the address:
 * - "none": ENETUNREACH, no route at all matched, so no host route either;
 * - "inconclusive": a reject-type route matched (blackhole EINVAL, unreachable EHOSTUNREACH,
 *   prohibit EACCES). That route may cover the address or be a host route to it itself, and a
 *   malformed request gives EINVAL too: the answer proves nothing, so the caller confirms with a
 *   dump before saying "absent".
 * - undefined: any other errno is a failure.
 */
export const lookupAnswerOf = (errno: number | undefined): "none" | "inconclusive" | undefined => {
  if (errno === Errno.ENETUNREACH) return "none"
  if (errno === Errno.EINVAL || errno === Errno.EHOSTUNREACH || errno === Errno.EACCES) return "inconclusive"
  return undefined
}
