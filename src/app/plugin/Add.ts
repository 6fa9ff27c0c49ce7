// ADD: one address from every pool of the network, as the result of the config's cniVersion.
import * as Effect from "effect/Effect"
import type { CniRequest } from "../../adapters/cni/CniRequest.ts"
import { type CniResult, encodeResult } from "../../adapters/cni/CniResult.ts"
import { attach } from "../../domain/Attach.ts"
import type { AttemptOutcome } from "../../domain/Claim.ts"
import { formatIp } from "../../domain/Ip.ts"
import { FabricHealth } from "../../domain/FabricHealth.ts"
import { fabricRefusal } from "./FabricGate.ts"
import { CniCode, type CniError } from "../../adapters/cni/CniError.ts"
import { cniErrorOf, type DomainError } from "../../adapters/cni/DomainErrorCodes.ts"
import { type AddOutcomeCounts, AddOutcomes } from "../../domain/AddOutcomes.ts"
import { withNodeLock } from "../../domain/NodeLock.ts"

/**
 * Every claim attempt: what was tried and why it was kept or let go. Attempts another node or the
 * fabric took from us (lost races, vanished routes, a partition during the wait) at info, so an
 * operator sees contention without debug logs; the rest at debug.
 */
const logAttempt = (outcome: AttemptOutcome) =>
  (outcome._tag === "Won" || outcome._tag === "Refused" ? Effect.logDebug : Effect.logInfo)(
    `attempt ${outcome.attempt} ${formatIp(outcome.address)}: ${outcome._tag}` +
      ("competitors" in outcome
        ? ` (competing: ${outcome.competitors.map((r) => (r.nextHop === undefined ? `protocol ${r.protocol}` : `via ${formatIp(r.nextHop)}`)).join(", ")})`
        : "")
  )

/**
 * Attach the owner (requested addresses exactly) and encode the result. With `onUnhealthy: "fail"`
 * (the default) the fabric is asked before every claim and again at every verdict: unhealthy
 * before a claim is code 11 with nothing kept, a change during the wait is a lost race (DESIGN.md
 * "Partitions during the wait"). With "proceed" it is asked once and only warned about.
 */
export const add = (request: CniRequest<"ADD">) =>
  Effect.gen(function* () {
    let lostRaces = 0
    const observe = (outcome: AttemptOutcome) => {
      if (lostRaceTags.has(outcome._tag)) lostRaces++
      return logAttempt(outcome)
    }
    const network = request.settings.network.name
    const result = yield* attachAndEncode(request, observe).pipe(
      Effect.tapError((error) => countOutcome(network, { ...outcomeOf(error), lostRaces }))
    )
    yield* countOutcome(network, { won: 1, lostRaces })
    return result
  })

/** Attempts another node or the fabric took from us: the lost races of the counters. */
const lostRaceTags: ReadonlySet<AttemptOutcome["_tag"]> = new Set([
  "Lost",
  "TieBreakLost",
  "Vanished",
  "Partitioned"
])

/** Which counter a failed ADD adds to, by the CNI code it reaches the runtime with. */
const outcomeOf = (error: CniError | DomainError): Partial<AddOutcomeCounts> => {
  const code = error._tag === "CniError" ? error.code : cniErrorOf(error).code
  return code === CniCode.poolExhausted
    ? { exhausted: 1 }
    : code === CniCode.tryAgainLater
      ? { tryAgainLater: 1 }
      : { refused: 1 }
}

/** Deltas waiting to be folded at which an ADD folds them (under the network's node lock). */
const foldBacklog = 64

/**
 * Add to the network's ADD counters (they outlive this process). Adding takes no lock, so a burst
 * of ADDs never queues on the one lock they all share to count; an ADD that finds `foldBacklog`
 * deltas waiting folds them under the network's node lock. Counting never changes the ADD's
 * outcome: a lock that cannot be had leaves the deltas for the next fold.
 */
const countOutcome = (network: string, delta: Partial<AddOutcomeCounts>) =>
  Effect.gen(function* () {
    const outcomes = yield* AddOutcomes
    if ((yield* outcomes.add(network, delta)) >= foldBacklog)
      yield* withNodeLock(network, outcomes.fold(network))
  }).pipe(
    Effect.catchTag("NodeLockTimeout", () =>
      Effect.logWarning(`ADD counters of ${network} not folded: the node lock was not free in time`)
    )
  )

const attachAndEncode = (
  request: CniRequest<"ADD">,
  observe: (outcome: AttemptOutcome) => Effect.Effect<void>
) =>
  Effect.gen(function* () {
    const { settings, owner } = request
    const health = yield* FabricHealth
    if (settings.onUnhealthy === "proceed") {
      yield* fabricRefusal(`ADD ${settings.network.name} ${owner.containerId}/${owner.ifname}`, "proceed")
    }
    const assigned = yield* attach(settings.network, owner, request.requested, {
      observe,
      ...(settings.onUnhealthy === "fail" ? { fabric: health.check } : {})
    })
    yield* Effect.logInfo(
      `ADD ${settings.network.name} ${owner.containerId}/${owner.ifname}: ${assigned.map((a) => formatIp(a.address)).join(", ")}`
    )
    return encodeResult(request.cniVersion, assigned, settings.routes, settings.dns) satisfies CniResult
  })
