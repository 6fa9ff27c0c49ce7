// fast-check generators of simulation scenarios for the race suite (D <= W, D > W, roomy or tight pools).
import fc from "fast-check"
import type { DelayDistribution } from "../../src/adapters/fabric/DelayDistribution.ts"
import type { Outage } from "../../src/adapters/fabric/Fabric.ts"
import type { Scenario } from "../../src/app/simulation/Scenario.ts"

/** Whether the larger soak runs are on (SOAK=1). */
export const soak = process.env.SOAK === "1"

/** Per-test timeout of the property tests: the soak runs take minutes. */
export const propertyTimeout = soak ? 900_000 : 60_000

/** A delay distribution whose longest delay is at most `max` ms (fixed, uniform or long-tailed). */
export const delayUpTo = (max: number): fc.Arbitrary<DelayDistribution> =>
  fc.oneof(
    fc.integer({ min: 0, max }).map((ms): DelayDistribution => ({ _tag: "Fixed", ms })),
    fc
      .tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max }))
      .map(([a, b]): DelayDistribution => ({ _tag: "Uniform", min: Math.min(a, b), max: Math.max(a, b) })),
    fc
      .tuple(fc.integer({ min: 1, max: Math.max(1, Math.floor(max / 4)) }), fc.integer({ min: 0, max }))
      .map(([median, cap]): DelayDistribution => ({ _tag: "LongTail", median, cap: Math.max(median, cap) }))
  )

/** Shape limits of generated scenarios. */
export interface ScenarioBounds {
  readonly maxNodes: number
  readonly maxPerNode: number
}

/** The default bounds: fast enough for `npm test`; SOAK=1 makes them larger. */
export const bounds: ScenarioBounds = soak
  ? { maxNodes: 50, maxPerNode: 12 }
  : { maxNodes: 50, maxPerNode: 5 }

const waits = [50, 100, 250] as const

/**
 * Scenarios where every message arrives within W (D <= W), outages included: an outage of length L
 * delays a message by at most L + D, so generated outages keep L + D <= W.
 * `slack` (>= 1) is the pool size over the number of requests: 1 = barely enough.
 */
export const safeScenario = (
  options: {
    readonly slack?: fc.Arbitrary<number>
    readonly requested?: boolean
    readonly releases?: boolean
    readonly outages?: boolean
  } = {}
): fc.Arbitrary<Scenario> =>
  fc
    .record({
      nodes: fc.integer({ min: 2, max: bounds.maxNodes }),
      perNode: fc.integer({ min: 1, max: bounds.maxPerNode }),
      wait: fc.constantFrom(...waits),
      slack: options.slack ?? fc.double({ min: 1, max: 4, noNaN: true }),
      arrival: fc.constantFrom("burst" as const, "spread" as const),
      spreadOver: fc.integer({ min: 0, max: 2000 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      requestedFraction: options.requested === false ? fc.constant(0) : fc.constantFrom(0, 0.1, 0.3),
      releaseFraction: options.releases === false ? fc.constant(0) : fc.constantFrom(0, 0.2, 0.5),
      tieBreak: fc.boolean(),
      maxAttempts: fc.integer({ min: 3, max: 10 }),
      order: fc.constantFrom("concurrent" as const, "sequential" as const),
      delayShare: fc.double({ min: 0, max: 1, noNaN: true }),
      outageCount: options.outages === true ? fc.integer({ min: 0, max: 3 }) : fc.constant(0),
      outageSeed: fc.integer({ min: 0, max: 1_000_000 })
    })
    .chain((r) => {
      const maxDelay = Math.floor(r.wait * r.delayShare)
      return delayUpTo(maxDelay).map((delay): Scenario => {
        const requests = r.nodes * r.perNode
        const outages: Array<Outage> = []
        for (let i = 0; i < r.outageCount; i++) {
          const node = (r.outageSeed + i * 7) % r.nodes
          const from = (r.outageSeed * (i + 3)) % 1500
          const length = r.wait - maxDelay
          outages.push({ node, from, to: from + ((r.outageSeed >> i) % (length + 1)) })
        }
        return {
          nodes: r.nodes,
          perNode: r.perNode,
          pool: "100.64.0.0/16",
          poolSize: Math.max(1, Math.ceil(requests * r.slack)),
          delay,
          wait: r.wait,
          arrival: r.arrival,
          spreadOver: r.spreadOver,
          seed: r.seed,
          requestedFraction: r.requestedFraction,
          releaseFraction: r.releaseFraction,
          maxAttempts: r.maxAttempts,
          tieBreak: r.tieBreak,
          order: r.order,
          ...(outages.length === 0 ? {} : { outages })
        }
      })
    })
