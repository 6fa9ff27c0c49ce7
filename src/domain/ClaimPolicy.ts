// The knobs of the claim protocol: propagation timeout W, attempts, backoff, tie-break, probing.
import * as Duration from "effect/Duration"

/** How the claim protocol behaves; see DESIGN.md "The claim protocol". */
export interface ClaimPolicy {
  /** W: how long to wait after claiming before looking again. Must exceed the propagation delay D. */
  readonly propagationTimeout: Duration.Duration
  /** Attempts (claims that had to be verified or were refused) before giving up with AttemptsExhausted. */
  readonly maxAttempts: number
  /** First backoff after a lost race; doubles per loss, jittered, capped at `backoffMax`. */
  readonly backoffInitial: Duration.Duration
  readonly backoffMax: Duration.Duration
  /** Resolve a simultaneous conflict deterministically (lower source address towards the peer wins). */
  readonly tieBreak: boolean
  /** Random probes (cheap lookups) before reading the whole pool from the table once. */
  readonly probes: number
}

/** Defaults: W = 250 ms as the original plugin, 10 attempts, backoff 50 ms .. 2 s, tie-break on,
 * 1024 probes (at 99% occupancy the chance that all miss a free address is 0.99^1024, about 3e-5). */
export const defaultClaimPolicy: ClaimPolicy = {
  propagationTimeout: Duration.millis(250),
  maxAttempts: 10,
  backoffInitial: Duration.millis(50),
  backoffMax: Duration.seconds(2),
  tieBreak: true,
  probes: 1024
}
