// A simulation scenario: the cluster, the pool, the fabric's delays, the claim policy and who asks for what when.
import type { DelayDistribution } from "../../adapters/fabric/DelayDistribution.ts"
import type { HiddenPair, Outage } from "../../adapters/fabric/Fabric.ts"
import { makeGenerator, seedOf } from "../../adapters/fabric/SeededHash.ts"
import { formatIp } from "../../domain/Ip.ts"
import { nthAllocatable, type Pool } from "../../domain/Pool.ts"

/** One allocation request: node `node` asks at simulated time `at` (ms) for `address` or any free one. */
export interface AllocationRequest {
  readonly node: number
  readonly at: number
  /** An exact address (as text); absent: any free address of the pool. */
  readonly address?: string
  /** Release the address this long (ms) after winning it; absent: hold it (until `releaseAllAtEnd`). */
  readonly holdFor?: number
  /** After releasing, allocate again at once (a fresh random request). */
  readonly reallocate?: boolean
}

/** How allocation requests of one node run: one after another, or all at once (like parallel pod starts). */
export type NodeOrder = "concurrent" | "sequential"

/** Everything a simulation run depends on; the same scenario always gives the same report. */
export interface Scenario {
  readonly nodes: number
  /** Allocations per node (ignored when `requests` is given). */
  readonly perNode: number
  /** The pool, as a CIDR (network and broadcast addresses are not handed out for IPv4). */
  readonly pool: string
  /** Only the first `poolSize` allocatable addresses of `pool` (for pools of any size, not only powers of two). */
  readonly poolSize?: number
  readonly delay: DelayDistribution
  /** W, the propagation timeout, ms. */
  readonly wait: number
  /** burst: every request at t = 0; spread: uniform over [0, spreadOver]. */
  readonly arrival: "burst" | "spread"
  /** Window of spread arrivals, ms (default 60 000). */
  readonly spreadOver?: number
  readonly seed: number | string
  /** Fraction of requests that name an exact address, drawn without repetition from the pool (default 0). */
  readonly requestedFraction?: number
  /** Fraction of won addresses released after a hold time drawn from `holdFor` (default 0). */
  readonly releaseFraction?: number
  /** Hold time range [min, max] ms of released addresses (default [0, 4 W]). */
  readonly holdFor?: readonly [number, number]
  /** Whether a node allocates again after each such release (default true). */
  readonly reallocate?: boolean
  /** At the end, every node releases everything it holds (default false). */
  readonly releaseAllAtEnd?: boolean
  readonly maxAttempts: number
  readonly tieBreak: boolean
  /** Backoff after a lost race, ms (defaults 50 and 2000, as the plugin's). */
  readonly backoffInitial?: number
  readonly backoffMax?: number
  /** Random probes before one full read of the pool (default 256, as the plugin's). */
  readonly probes?: number
  /** How each node runs its own requests (default concurrent). */
  readonly order?: NodeOrder
  readonly outages?: ReadonlyArray<Outage>
  readonly hidden?: ReadonlyArray<HiddenPair>
  /** Explicit requests; when given, `perNode`, `arrival` and the fractions are not used to make them. */
  readonly requests?: ReadonlyArray<AllocationRequest>
}

/** The 32-bit seed a scenario's seed text or number stands for. */
export const numericSeed = (scenario: Scenario): number => seedOf(scenario.seed)

/**
 * The requests of a scenario: the explicit list, or `perNode` per node with arrival times, exact
 * addresses and release times drawn from the scenario's seed (independent of how the run unfolds).
 */
export const requestsOf = (scenario: Scenario, pool: Pool): ReadonlyArray<AllocationRequest> => {
  if (scenario.requests !== undefined) return scenario.requests
  const random = makeGenerator(numericSeed(scenario) ^ 0x5bd1e995)
  const spread = scenario.spreadOver ?? 60_000
  const [holdMin, holdMax] = scenario.holdFor ?? [0, 4 * scenario.wait]
  const requestedFraction = scenario.requestedFraction ?? 0
  const releaseFraction = scenario.releaseFraction ?? 0
  const reallocate = scenario.reallocate ?? true
  const usedExact = new Set<bigint>()
  const requests: Array<AllocationRequest> = []
  for (let node = 0; node < scenario.nodes; node++) {
    for (let k = 0; k < scenario.perNode; k++) {
      const at = scenario.arrival === "burst" ? 0 : Math.floor(random.next() * spread)
      let address: string | undefined
      if (random.next() < requestedFraction && BigInt(usedExact.size) < pool.size) {
        for (;;) {
          const index = BigInt(Math.floor(random.next() * Number(pool.size)))
          if (usedExact.has(index)) continue
          usedExact.add(index)
          address = formatIp(nthAllocatable(pool, index))
          break
        }
      }
      const released = random.next() < releaseFraction
      const holdFor = holdMin + random.next() * (holdMax - holdMin)
      requests.push({
        node,
        at,
        ...(address === undefined ? {} : { address }),
        ...(released ? { holdFor, reallocate } : {})
      })
    }
  }
  return requests
}
