// The lifecycle property suite: random histories of ADD, DEL, CHECK, GC, gc, crashes, reboots and session drops never give one address to two live containers, nor leave a live container without its route.
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { addCounts } from "../race/raceProperty.ts"
import { type History, type Lifecycle, runHistory, type Step } from "./LifecycleHistory.ts"
import { blindVerdict, current, oldRules, planTrustingGc } from "./Lifecycles.ts"

const soak = process.env.SOAK === "1"
const file = "test/lifecycle/lifecycle.test.ts"

const wait = 100

const step = (nodes: number, horizon: number): fc.Arbitrary<Step> => {
  const at = fc.integer({ min: 0, max: horizon })
  const node = fc.integer({ min: 0, max: nodes - 1 })
  const container = fc.integer({ min: 0, max: 2 })
  const crash = fc.option(fc.integer({ min: 0, max: 30 }), { freq: 3, nil: undefined })
  const request = fc.option(fc.integer({ min: 0, max: 7 }), { freq: 2, nil: undefined })
  return fc
    .oneof(
      {
        weight: 8,
        arbitrary: fc.record({ op: fc.constant("add" as const), at, node, container, request, crash })
      },
      {
        weight: 4,
        arbitrary: fc.record({
          op: fc.constant("del" as const),
          at,
          node,
          container,
          hint: fc.boolean(),
          crash
        })
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("check" as const), at, node, container }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("cniGc" as const), at, node, crash }) },
      {
        weight: 2,
        arbitrary: fc.record({
          op: fc.constant("gc" as const),
          at,
          node,
          keep: fc.boolean(),
          graceMillis: fc.constantFrom(0, 5000),
          crash
        })
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("reboot" as const), at, node }) }
    )
    .map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as Step)
}

/** Random histories: 2-3 nodes, 3 containers each, a /29 (6 addresses) so addresses are contended, D <= W. */
const histories = (options: { readonly drops: boolean }): fc.Arbitrary<History> =>
  fc.integer({ min: 2, max: 3 }).chain((nodes) => {
    const horizon = 3000
    const pair = fc
      .tuple(fc.integer({ min: 0, max: nodes - 1 }), fc.integer({ min: 1, max: nodes - 1 }))
      .map(([a, d]) => ({ a, b: (a + d) % nodes }))
    const drop = fc
      .tuple(pair, fc.integer({ min: 0, max: horizon }), fc.integer({ min: 1, max: 400 }))
      .map(([p, from, length]) => ({ ...p, from, to: from + length }))
    return fc.record({
      nodes: fc.constant(nodes),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      subnet: fc.constant("100.64.0.0/29"),
      subnet6: fc.constantFrom(undefined, "fd00:64::/125"),
      slowWrites: fc.boolean(),
      slowListings: fc.boolean(),
      wait: fc.constant(wait),
      maxDelay: fc.integer({ min: 0, max: wait }),
      drops: options.drops ? fc.array(drop, { maxLength: 2 }) : fc.constant([]),
      steps: fc.array(step(nodes, horizon), { minLength: 4, maxLength: 28 })
    })
  })

/**
 * Two nodes request the same address at nearly the same time and their session drops while both
 * wait: the partition case of issue 8 item 4, made likely rather than rare.
 */
const partitionRaces: fc.Arbitrary<History> = fc
  .record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxDelay: fc.integer({ min: 1, max: 40 }),
    skew: fc.integer({ min: 0, max: 10 }),
    dropAt: fc.integer({ min: 50, max: 95 }),
    dropFor: fc.integer({ min: 30, max: 300 }),
    request: fc.integer({ min: 0, max: 5 })
  })
  .map(({ seed, maxDelay, skew, dropAt, dropFor, request }) => ({
    nodes: 2,
    seed,
    subnet: "100.64.0.0/29",
    wait,
    maxDelay,
    drops: [{ a: 0, b: 1, from: 100 + dropAt, to: 100 + dropAt + skew + dropFor }],
    steps: [
      { op: "add" as const, at: 100, node: 0, container: 0, request },
      { op: "add" as const, at: 100 + skew, node: 1, container: 0, request },
      { op: "check" as const, at: 600, node: 0, container: 0 },
      { op: "check" as const, at: 600, node: 1, container: 0 }
    ]
  }))

/** Run `lifecycle` over `arbitrary`; the first violation (shrunk) or undefined, plus how many ran and what happened. */
const explore = (lifecycle: Lifecycle, arbitrary: fc.Arbitrary<History>, seed: number, numRuns: number) => {
  const counts: Record<string, number> = {}
  const started = performance.now()
  const details = fc.check(
    fc.property(arbitrary, (history) => {
      const report = runHistory(history, lifecycle)
      addCounts(counts, report.counts)
      if (report.violations.length > 0) throw new Error(report.violations.slice(0, 3).join("\n"))
    }),
    { seed, numRuns }
  )
  const seconds = (performance.now() - started) / 1000
  return { details, counts, seconds }
}

const expectNoViolation = (name: string, result: ReturnType<typeof explore>) => {
  const { details } = result
  if (details.failed) {
    const error =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    assert.fail(
      [
        `${name}: falsified after ${details.numRuns} histories and ${details.numShrinks} shrinks`,
        `History: ${JSON.stringify(details.counterexample?.[0])}`,
        `Violation: ${error}`,
        `Replay: LIFECYCLE_SEED=${details.seed} npx vitest run ${file} -t ${JSON.stringify(name)}`
      ].join("\n")
    )
  }
  console.log(
    `${name}: ${details.numRuns} histories in ${result.seconds.toFixed(1)} s (${Math.round(details.numRuns / result.seconds)}/s); ${JSON.stringify(result.counts)}`
  )
}

const seedOf = (fallback: number) =>
  process.env.LIFECYCLE_SEED === undefined ? fallback : Number(process.env.LIFECYCLE_SEED)

describe("lifecycle invariants (DESIGN.md 1 and 2) over random histories", () => {
  it("no crash, reboot, GC or session drop ever gives one address to two live containers or takes a live container's route", {
    timeout: 300_000
  }, () => {
    const result = explore(current, histories({ drops: true }), seedOf(8_001), soak ? 20_000 : 2_000)
    expectNoViolation(
      "no crash, reboot, GC or session drop ever gives one address to two live containers or takes a live container's route",
      result
    )
  })

  it("a session that drops while both claimants wait never makes both win", { timeout: 120_000 }, () => {
    const result = explore(current, partitionRaces, seedOf(8_002), soak ? 5_000 : 500)
    expectNoViolation("a session that drops while both claimants wait never makes both win", result)
    assert.isAbove(result.counts["add:ok"] ?? 0, 0, "some races must still be won")
  })

  it("negative control: the verdict that ignores the fabric gives one address to two live containers", {
    timeout: 120_000
  }, () => {
    const result = explore(blindVerdict, partitionRaces, seedOf(8_002), 500)
    assert.isTrue(result.details.failed, "the blind verdict must be caught")
    const message = String((result.details.errorInstance as Error).message)
    assert.match(message, /is held by live n0c0 and n1c0|is held by live n1c0 and n0c0/)
    console.log(
      `negative control (blind verdict) caught after ${result.details.numRuns} histories:\n${message}\nhistory: ${JSON.stringify(result.details.counterexample?.[0])}`
    )
  })

  it("negative control: a GC that acts on its plan without reading each record again takes a confirmed ADD's route", {
    timeout: 120_000
  }, () => {
    const result = explore(planTrustingGc, histories({ drops: false }), seedOf(8_004), 2_000)
    assert.isTrue(result.details.failed, "the plan-trusting GC must be caught")
    const message = String((result.details.errorInstance as Error).message)
    assert.match(message, /has no route of ours/)
    console.log(
      `negative control (plan-trusting GC) caught after ${result.details.numRuns} histories, shrunk ${result.details.numShrinks} times:\n${message}\nhistory: ${JSON.stringify(result.details.counterexample?.[0])}`
    )
  })

  it("negative control: the release rules before issue 8 lose live containers' routes", {
    timeout: 120_000
  }, () => {
    const result = explore(oldRules, histories({ drops: false }), seedOf(8_003), 2_000)
    assert.isTrue(result.details.failed, "the old rules must be caught")
    const message = String((result.details.errorInstance as Error).message)
    console.log(
      `negative control (old release rules) caught after ${result.details.numRuns} histories, shrunk ${result.details.numShrinks} times:\n${message}\nhistory: ${JSON.stringify(result.details.counterexample?.[0])}`
    )
  })
})
