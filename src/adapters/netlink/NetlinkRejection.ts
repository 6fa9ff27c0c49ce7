// The errno behind a failed netlink request (the `netlink` package only puts it in the message).

/** The errno name (`"EEXIST"`, `"ESRCH"`, ...) of a request the kernel rejected, if that is what failed. */
export const rejectionOf = (cause: unknown): string | undefined => {
  const message = cause instanceof Error ? cause.message : undefined
  return message === undefined ? undefined : /^Request rejected: (\S+)$/.exec(message)?.[1]
}

/** A human-readable description of any failure, for RouteTableError.message. */
export const describeFailure = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)

/**
 * Answers of a route lookup that mean "no usable route" rather than a failure: no route at all
 * (ENETUNREACH), or a covering reject route: unreachable (EHOSTUNREACH), prohibit (EACCES),
 * blackhole (EINVAL).
 */
export const noRouteRejections: ReadonlySet<string> = new Set([
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EACCES",
  "EINVAL"
])
