// Runs a scenario: the unchanged claim protocol on every simulated node, in virtual time, and builds the report.
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import { formatDelay, maxDelayOf } from "../../adapters/fabric/DelayDistribution.ts"
import { type Fabric, makeFabric } from "../../adapters/fabric/Fabric.ts"
import { VirtualTime } from "../../adapters/fabric/VirtualTime.ts"
import { type AttemptOutcome, claimAddress } from "../../domain/Claim.ts"
import type { ClaimPolicy } from "../../domain/ClaimPolicy.ts"
import { formatIp, parseIp } from "../../domain/Ip.ts"
import { makePool, nthAllocatable, type Pool } from "../../domain/Pool.ts"
import { RouteTable } from "../../domain/RouteTable.ts"
import { HoldingLedger } from "./HoldingLedger.ts"
import { type AllocationRequest, numericSeed, requestsOf, type Scenario } from "./Scenario.ts"
import { type FinalViews, type SimulationReport, summarizeLatency } from "./SimulationReport.ts"

/** The scenario cannot be run as given (bad pool, bad numbers). */
export class InvalidScenario extends Data.TaggedError("InvalidScenario")<{ readonly message: string }> {}

/** Progress of a long run, reported every 100 000 timer wake-ups. */
export interface SimulationProgress {
  readonly simulatedMs: number
  readonly won: number
  readonly failed: number
  readonly asked: number
}

/** Options of a run that do not change its result. */
export interface RunOptions {
  readonly onProgress?: (progress: SimulationProgress) => void
  /** Called for every attempt outcome and every final result (for tracing a scenario). */
  readonly onEvent?: (event: SimulationEvent) => void
}

/** One step of one allocation, for traces: an attempt's outcome, a win, a failure or a release. */
export type SimulationEvent =
  | { readonly _tag: "Attempt"; readonly node: number; readonly at: number; readonly outcome: AttemptOutcome }
  | { readonly _tag: "Failed"; readonly node: number; readonly at: number; readonly error: string }
  | { readonly _tag: "Released"; readonly node: number; readonly at: number; readonly address: string }

/** Check a scenario and build its pool. */
export const poolOf = (scenario: Scenario): Pool | InvalidScenario => {
  const whole = makePool("pool", [{ subnet: scenario.pool }])
  if ("_tag" in whole) return new InvalidScenario({ message: `pool ${scenario.pool}: ${whole.message}` })
  const size = scenario.poolSize
  if (size !== undefined && !(Number.isInteger(size) && size >= 1 && BigInt(size) <= whole.size)) {
    return new InvalidScenario({ message: `pool size must be from 1 to ${whole.size}` })
  }
  const pool =
    size === undefined
      ? whole
      : makePool("pool", [
          { subnet: scenario.pool, rangeEnd: formatIp(nthAllocatable(whole, BigInt(size - 1))) }
        ])
  if ("_tag" in pool) return new InvalidScenario({ message: `pool ${scenario.pool}: ${pool.message}` })
  const problems = [
    Number.isInteger(scenario.nodes) && scenario.nodes >= 1 ? undefined : "nodes must be a whole number >= 1",
    Number.isInteger(scenario.perNode) && scenario.perNode >= 0
      ? undefined
      : "per-node must be a whole number >= 0",
    scenario.wait >= 0 ? undefined : "W must be >= 0",
    Number.isInteger(scenario.maxAttempts) && scenario.maxAttempts >= 1
      ? undefined
      : "max attempts must be >= 1",
    scenario.nodes <= 65_000 ? undefined : "at most 65 000 nodes"
  ].filter((p) => p !== undefined)
  return problems.length === 0 ? pool : new InvalidScenario({ message: problems.join("; ") })
}

/** The claim policy a scenario stands for. */
export const policyOf = (scenario: Scenario): ClaimPolicy => ({
  propagationTimeout: Duration.millis(scenario.wait),
  maxAttempts: scenario.maxAttempts,
  backoffInitial: Duration.millis(scenario.backoffInitial ?? 50),
  backoffMax: Duration.millis(scenario.backoffMax ?? 2000),
  tieBreak: scenario.tieBreak,
  probes: scenario.probes ?? 256
})

/**
 * Run a scenario to the end and report. Synchronous and deterministic: the same scenario gives the
 * same report. Each request is one run of `claimAddress` on its node's view of the fabric; with
 * `order: "concurrent"` (default) all requests of a node run at once, as parallel pod starts do,
 * with `"sequential"` one after another in arrival order.
 */
export const runScenarioSync = (scenario: Scenario, options: RunOptions = {}): SimulationReport => {
  const pool = poolOf(scenario)
  if (pool instanceof InvalidScenario) throw pool
  const seed = numericSeed(scenario)
  const fabric = makeFabric({
    nodes: scenario.nodes,
    delay: scenario.delay,
    seed,
    outages: scenario.outages ?? [],
    hidden: scenario.hidden ?? []
  })
  const tables = Array.from({ length: scenario.nodes }, (_, i) => fabric.routeTableOf(i))
  const policy = policyOf(scenario)
  const requests = requestsOf(scenario, pool)
  const ledger = new HoldingLedger()
  const time = new VirtualTime()
  const latencies: Array<number> = []
  const attempts: Record<string, number> = {}
  const outcomes: Record<string, number> = {}
  const failures: Record<string, number> = {}
  const counts = { asked: 0, won: 0, failed: 0, releases: 0 }
  let lastActivity = 0

  const serve = (request: AllocationRequest): Effect.Effect<void> =>
    Effect.gen(function* () {
      const table = tables[request.node]!
      counts.asked++
      const start = yield* Clock.currentTimeMillis
      const requested =
        request.address === undefined ? undefined : Option.getOrUndefined(parseIp(request.address))
      if (request.address !== undefined && requested === undefined) {
        counts.failed++
        failures.InvalidAddress = (failures.InvalidAddress ?? 0) + 1
        return
      }
      let tries = 0
      const result = yield* claimAddress(pool, requested, policy, {
        observe: (outcome) =>
          Effect.sync(() => {
            options.onEvent?.({ _tag: "Attempt", node: request.node, at: time.now, outcome })
            tries = outcome.attempt
            outcomes[outcome._tag] = (outcomes[outcome._tag] ?? 0) + 1
          })
      }).pipe(Effect.provideService(RouteTable, table), Effect.result)
      const now = yield* Clock.currentTimeMillis
      lastActivity = Math.max(lastActivity, now)
      if (Result.isFailure(result)) {
        counts.failed++
        failures[result.failure._tag] = (failures[result.failure._tag] ?? 0) + 1
        options.onEvent?.({ _tag: "Failed", node: request.node, at: now, error: String(result.failure) })
        return
      }
      counts.won++
      ledger.won(request.node, result.success, now)
      latencies.push(now - start)
      attempts[String(tries)] = (attempts[String(tries)] ?? 0) + 1
      if (request.holdFor === undefined) return
      yield* Effect.sleep(Duration.millis(request.holdFor))
      yield* Effect.orDie(table.release(result.success))
      const releasedAt = yield* Clock.currentTimeMillis
      ledger.released(request.node, result.success, releasedAt)
      options.onEvent?.({
        _tag: "Released",
        node: request.node,
        at: releasedAt,
        address: formatIp(result.success)
      })
      counts.releases++
      lastActivity = Math.max(lastActivity, releasedAt)
      if (request.reallocate === true) yield* serve({ node: request.node, at: releasedAt })
    })

  const startAt = (request: AllocationRequest): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.andThen(Effect.sleep(Duration.millis(Math.max(0, request.at - now))), serve(request))
    )

  const runAll: Effect.Effect<void> =
    (scenario.order ?? "concurrent") === "concurrent"
      ? Effect.forEach(requests, startAt, { concurrency: "unbounded", discard: true })
      : Effect.forEach(
          groupByNode(requests, scenario.nodes),
          (list) => Effect.forEach(list, startAt, { discard: true }),
          { concurrency: "unbounded", discard: true }
        )

  const program = Effect.gen(function* () {
    yield* runAll
    if (scenario.releaseAllAtEnd === true) {
      for (const holding of ledger.held()) {
        yield* Effect.orDie(tables[holding.node]!.release(holding.host))
        ledger.released(holding.node, holding.host, yield* Clock.currentTimeMillis)
        counts.releases++
      }
    }
    // read the final views 1 ms after the last announcement reached everyone (float sums of
    // simulated time may land a hair short of the exact instant)
    const now = yield* Clock.currentTimeMillis
    yield* Effect.sleep(Duration.millis(Math.max(0, fabric.settledAt() - now) + 1))
    return yield* Clock.currentTimeMillis
  }).pipe(Random.withSeed(seed))

  const exit = time.run(program, {
    onProgress: (p) =>
      options.onProgress?.({
        simulatedMs: p.now,
        won: counts.won,
        failed: counts.failed,
        asked: counts.asked
      })
  })
  if (exit._tag === "Failure") throw new Error(`simulation failed: ${String(exit.cause)}`)
  const settledAt = exit.value
  const doubles = ledger.doubleAllocations()

  return {
    scenario: {
      nodes: scenario.nodes,
      requests: requests.length,
      pool: scenario.poolSize === undefined ? scenario.pool : `${scenario.pool} (first ${scenario.poolSize})`,
      poolSize: Number(pool.size),
      delay: formatDelay(scenario.delay),
      maxDelay: maxDelayOf(scenario.delay),
      wait: scenario.wait,
      arrival: scenario.requests === undefined ? scenario.arrival : "explicit",
      order: scenario.order ?? "concurrent",
      seed: String(scenario.seed),
      tieBreak: scenario.tieBreak,
      maxAttempts: scenario.maxAttempts,
      outages: scenario.outages?.length ?? 0,
      hiddenPairs: scenario.hidden?.length ?? 0
    },
    duplicates: doubles.length,
    doubleAllocations: doubles.slice(0, 20),
    allocations: { asked: counts.asked, won: counts.won, failed: counts.failed },
    attempts: sortedByNumber(attempts),
    outcomes,
    latency: summarizeLatency(latencies),
    failures,
    exhausted: failures.PoolExhausted ?? 0,
    leaks: leaksOf(fabric, ledger),
    releases: counts.releases,
    announcements: fabric.announcements(),
    simulatedMs: lastActivity,
    finalViews: finalViewsOf(fabric, ledger, scenario, settledAt)
  }
}

/** `runScenarioSync` as an Effect: fails with InvalidScenario instead of throwing. */
export const runScenario = (
  scenario: Scenario,
  options: RunOptions = {}
): Effect.Effect<SimulationReport, InvalidScenario> =>
  Effect.suspend(() => {
    const pool = poolOf(scenario)
    if (pool instanceof InvalidScenario) return Effect.fail(pool)
    return Effect.sync(() => runScenarioSync(scenario, options))
  })

const groupByNode = (
  requests: ReadonlyArray<AllocationRequest>,
  nodes: number
): Array<Array<AllocationRequest>> => {
  const groups: Array<Array<AllocationRequest>> = Array.from({ length: nodes }, () => [])
  for (const r of requests) groups[r.node]?.push(r)
  for (const g of groups) g.sort((a, b) => a.at - b.at)
  return groups
}

const sortedByNumber = (counts: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).sort(([a], [b]) => Number(a) - Number(b)))

/** Routes of our own that no holding explains (a loser that never withdrew), plus holdings without a route. */
const leaksOf = (fabric: Fabric, ledger: HoldingLedger): number => {
  const held = new Set(ledger.held().map((h) => `${h.node} ${h.host.family}:${h.host.value}`))
  const routed = new Set(fabric.ownRoutes().map((r) => `${r.node} ${r.host.family}:${r.host.value}`))
  let leaks = 0
  for (const key of routed) if (!held.has(key)) leaks++
  for (const key of held) if (!routed.has(key)) leaks++
  return leaks
}

/** Compare each node's settled view with what the holdings say it should see (a sample on huge runs). */
const finalViewsOf = (fabric: Fabric, ledger: HoldingLedger, scenario: Scenario, at: number): FinalViews => {
  const holders = new Map<string, Array<number>>()
  let total = 0
  for (const h of ledger.held()) {
    const key = `${h.host.family}:${h.host.value}`
    const list = holders.get(key)
    if (list === undefined) holders.set(key, [h.node])
    else list.push(h.node)
    total++
  }
  const hidden = new Set((scenario.hidden ?? []).map((h) => h.observer * scenario.nodes + h.origin))
  const hiddenFrom = (observer: number, origin: number) =>
    observer !== origin && hidden.has(observer * scenario.nodes + origin)
  const budget = 2_000_000
  const sample = Math.max(2, Math.floor(budget / Math.max(1, total)))
  const step = scenario.nodes <= sample ? 1 : Math.ceil(scenario.nodes / sample)
  let checked = 0
  let consistent = 0
  let routesMin = Number.POSITIVE_INFINITY
  let routesMax = 0
  const differences: Array<{ node: number; missing: number; extra: number }> = []
  for (let node = 0; node < scenario.nodes; node += step) {
    let expected = 0
    for (const list of holders.values()) for (const holder of list) if (!hiddenFrom(node, holder)) expected++
    let matched = 0
    let extra = 0
    fabric.forEachVisible(node, at, (host, origin) => {
      const list = holders.get(`${host.family}:${host.value}`)
      if (list?.includes(origin) === true && !hiddenFrom(node, origin)) matched++
      else extra++
    })
    const missing = expected - matched
    const routes = matched + extra
    checked++
    routesMin = Math.min(routesMin, routes)
    routesMax = Math.max(routesMax, routes)
    if (missing === 0 && extra === 0) consistent++
    else if (differences.length < 5) differences.push({ node, missing, extra })
  }
  return { at, checked, consistent, routesMin: checked === 0 ? 0 : routesMin, routesMax, differences }
}
