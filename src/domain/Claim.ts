// The claim protocol: pick, claim, wait W, verify; release and back off when another node competes.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import {
  AddressOutsidePool,
  AddressTaken,
  AttemptsExhausted,
  FabricUnhealthy,
  PoolExhausted
} from "./AllocationError.ts"
import { makePicker } from "./Candidate.ts"
import type { ClaimPolicy } from "./ClaimPolicy.ts"
import type { FabricHealthError, FabricReport } from "./FabricHealth.ts"
import { formatIp, type Ip } from "./Ip.ts"
import { describePool, isAllocatable, type Pool } from "./Pool.ts"
import { isOurs, type Route } from "./Route.ts"
import { type HostTaken, RouteTable, type RouteTableError } from "./RouteTable.ts"

/** Every way a claim can fail. */
export type ClaimError =
  | PoolExhausted
  | AddressTaken
  | AddressOutsidePool
  | AttemptsExhausted
  | FabricUnhealthy
  | RouteTableError

/** What happened to one attempt (reported to `observe`, used by simulations and logs). */
export type AttemptOutcome =
  | { readonly _tag: "Won"; readonly address: Ip; readonly attempt: number }
  | { readonly _tag: "Refused"; readonly address: Ip; readonly attempt: number }
  | {
      readonly _tag: "Lost"
      readonly address: Ip
      readonly attempt: number
      readonly competitors: ReadonlyArray<Route>
    }
  | {
      readonly _tag: "TieBreakLost"
      readonly address: Ip
      readonly attempt: number
      readonly competitors: ReadonlyArray<Route>
    }
  | { readonly _tag: "Vanished"; readonly address: Ip; readonly attempt: number }
  | { readonly _tag: "Partitioned"; readonly address: Ip; readonly attempt: number; readonly detail: string }

/**
 * Optional callbacks around each claim. The attachment lifecycle uses them to record the intent
 * and to take the node lock; simulations use `observe`.
 */
export interface ClaimHooks<E = never, R = never> {
  /**
   * Insert the candidate's route: `insert` is the bare kernel insert (true: inserted; false: the
   * table refused it, someone on this node holds it). The hook may refuse without inserting
   * (false), e.g. when a record of this node names the candidate. Runs uninterruptibly.
   * Default: `insert` alone.
   */
  readonly insert?: (
    candidate: Ip,
    insert: Effect.Effect<boolean, RouteTableError>
  ) => Effect.Effect<boolean, E | RouteTableError, R>
  /** Release the candidate after a lost verdict. Default: RouteTable.release. */
  readonly release?: (candidate: Ip) => Effect.Effect<void, E | RouteTableError, R>
  /**
   * Keep the candidate after a Won verdict (e.g. write it into the owner record). false: it was
   * taken from us meanwhile (the record is gone): the attempt counts as Vanished. Default: true.
   */
  readonly confirm?: (candidate: Ip) => Effect.Effect<boolean, E | RouteTableError, R>
  /**
   * The fabric's health, asked before each insert and again at the verdict. Won needs both healthy
   * with the same epoch (DESIGN.md "Partitions during the wait"); unhealthy before the insert ends
   * the claim with FabricUnhealthy. Without it a partition during the wait cannot be detected.
   */
  readonly fabric?: Effect.Effect<FabricReport, FabricHealthError>
  /** Runs after each attempt is decided. */
  readonly observe?: (outcome: AttemptOutcome) => Effect.Effect<void, never, R>
}

type Verdict =
  | { readonly _tag: "Won" }
  | { readonly _tag: "Lost" | "TieBreakLost"; readonly competitors: ReadonlyArray<Route> }
  | { readonly _tag: "Vanished" }
  | { readonly _tag: "Partitioned"; readonly detail: string }

/** A failed health probe reads as unhealthy: propagation cannot be guaranteed either way. */
const askFabric = (fabric: Effect.Effect<FabricReport, FabricHealthError>) =>
  fabric.pipe(
    Effect.catchTag("FabricHealthError", (e) =>
      Effect.succeed<FabricReport>({
        healthy: false,
        established: 0,
        required: 0,
        detail: e.message,
        epoch: "unreachable"
      })
    )
  )

/**
 * Claim one address of `pool` for this node: `requested` exactly (never swapped for another), or a
 * random free one. Returns the address once our route is the only route to it after W.
 *
 * Safety (DESIGN.md): if every claim reaches every node within D <= W, two nodes never both keep
 * an address. The caller must release the address (RouteTable.release) when it is no longer used.
 */
export const claimAddress = <E = never, R = never>(
  pool: Pool,
  requested: Ip | undefined,
  policy: ClaimPolicy,
  hooks: ClaimHooks<E, R> = {}
): Effect.Effect<Ip, ClaimError | E, RouteTable | R> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    if (requested !== undefined && !isAllocatable(pool, requested)) {
      return yield* new AddressOutsidePool({ address: formatIp(requested), pools: describePool(pool) })
    }
    const picker = makePicker(pool, policy.probes)
    const tried: Array<string> = []
    let losses = 0
    let exhausted: PoolExhausted | undefined
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      const picked =
        requested ??
        (yield* picker.pick.pipe(
          Effect.catchTag("PoolExhausted", (e) => (losses > 0 ? Effect.succeed(e) : Effect.fail(e)))
        ))
      if (picked instanceof PoolExhausted) {
        // Full after a lost race: the table is in flux (a loser's withdrawal may still be on its
        // way, or an address was freed since our one full read). Back off and read again rather
        // than fail while an address may be about to come free.
        exhausted = picked
        picker.forget()
        losses++
        yield* Effect.sleep(yield* backoff(policy, losses))
        continue
      }
      exhausted = undefined
      const candidate = picked
      tried.push(formatIp(candidate))
      if (requested !== undefined && (yield* table.isTaken(candidate))) {
        return yield* takenBecause(candidate, yield* table.routesTo(candidate))
      }
      const before = hooks.fabric === undefined ? undefined : yield* askFabric(hooks.fabric)
      if (before !== undefined && !before.healthy) {
        return yield* new FabricUnhealthy({ detail: before.detail, tried })
      }
      const insert = table.claim(candidate).pipe(
        Effect.as(true),
        Effect.catchTag("HostTaken", (_: HostTaken) => Effect.succeed(false))
      )
      // uninterruptible: an interrupted in-flight insert would otherwise land after our cleanup
      const claimed = yield* (hooks.insert === undefined ? insert : hooks.insert(candidate, insert)).pipe(
        Effect.uninterruptible
      )
      if (!claimed) {
        // refused at once by this node's table: someone here holds it; pick again, no wait
        if (hooks.observe) yield* hooks.observe({ _tag: "Refused", address: candidate, attempt })
        if (requested !== undefined) {
          return yield* new AddressTaken({
            address: formatIp(candidate),
            reason: "a route of ours already exists on this node"
          })
        }
        continue
      }
      yield* Effect.sleep(policy.propagationTimeout)
      let verdict: Verdict = yield* verify(candidate, policy)
      if (verdict._tag === "Won" && before !== undefined && hooks.fabric !== undefined) {
        const after = yield* askFabric(hooks.fabric)
        if (!after.healthy || after.epoch !== before.epoch) {
          verdict = {
            _tag: "Partitioned",
            detail: after.healthy ? `the fabric changed during the wait (${after.detail})` : after.detail
          }
        }
      }
      if (verdict._tag === "Won" && hooks.confirm !== undefined && !(yield* hooks.confirm(candidate))) {
        verdict = { _tag: "Vanished" }
      }
      if (hooks.observe) yield* hooks.observe({ ...verdict, address: candidate, attempt })
      if (verdict._tag === "Won") return candidate
      if (verdict._tag !== "Vanished") {
        yield* hooks.release === undefined ? table.release(candidate) : hooks.release(candidate)
      }
      losses++
      yield* Effect.sleep(yield* backoff(policy, losses))
    }
    if (exhausted !== undefined) return yield* exhausted
    return yield* new AttemptsExhausted({ attempts: policy.maxAttempts, tried })
  })

/** Look again after W: alone, competing (maybe winning the tie-break), or removed under us. */
const verify = (candidate: Ip, policy: ClaimPolicy): Effect.Effect<Verdict, RouteTableError, RouteTable> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    const routes = yield* table.routesTo(candidate)
    if (!routes.some(isOurs)) return { _tag: "Vanished" } as const
    const competitors = routes.filter((r) => !isOurs(r))
    if (competitors.length === 0) return { _tag: "Won" } as const
    if (!policy.tieBreak || !(yield* winsTieBreak(competitors))) return { _tag: "Lost", competitors } as const
    // We keep our route and wait (up to another W) until every competitor is withdrawn.
    const step = Duration.max(Duration.millis(1), Duration.divideUnsafe(policy.propagationTimeout, 5))
    let waited = Duration.zero
    while (Duration.isLessThan(waited, policy.propagationTimeout)) {
      yield* Effect.sleep(step)
      waited = Duration.sum(waited, step)
      const now = yield* table.routesTo(candidate)
      if (!now.some(isOurs)) return { _tag: "Vanished" } as const
      if (now.every(isOurs)) return { _tag: "Won" } as const
    }
    return { _tag: "TieBreakLost", competitors } as const
  })

/**
 * We win a conflict when every competitor is a learned route with a next hop and our source address
 * towards each next hop is lower than that next hop. Anything undecidable is a loss.
 */
const winsTieBreak = (
  competitors: ReadonlyArray<Route>
): Effect.Effect<boolean, RouteTableError, RouteTable> =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    for (const competitor of competitors) {
      const peer = competitor.nextHop
      if (peer === undefined) return false
      const source = yield* table.sourceTowards(peer)
      if (source === undefined || source.family !== peer.family || source.value >= peer.value) return false
    }
    return true
  })

const takenBecause = (address: Ip, routes: ReadonlyArray<Route>): AddressTaken => {
  const route = routes[0]
  const reason =
    route === undefined
      ? "a route to it exists"
      : route.origin === "ours"
        ? "a container on this node holds it"
        : route.nextHop !== undefined
          ? `held via ${formatIp(route.nextHop)} (protocol ${route.protocol})`
          : `a route with protocol ${route.protocol} exists`
  return new AddressTaken({ address: formatIp(address), reason })
}

/** Exponential backoff after the n-th loss, capped, with jitter in [0.5, 1.5). */
const backoff = (policy: ClaimPolicy, losses: number): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (r) => {
    const base = Duration.toMillis(policy.backoffInitial) * 2 ** Math.min(losses - 1, 30)
    const capped = Math.min(base, Duration.toMillis(policy.backoffMax))
    return Duration.millis(Math.round(capped * (0.5 + r)))
  })
