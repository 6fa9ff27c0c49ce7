// Safety of the claim protocol on simulated nodes: never two holders when D <= W; the checker finds them when D > W.
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import type { Scenario } from "../../src/app/simulation/Scenario.ts"
import { runScenarioSync } from "../../src/app/simulation/ScenarioRunner.ts"
import type { SimulationReport } from "../../src/app/simulation/SimulationReport.ts"
import { checkScenarios } from "./raceProperty.ts"
import { propertyTimeout, safeScenario, soak } from "./raceScenarios.ts"

const file = "test/race/safety.test.ts"

const firstDouble = (report: SimulationReport): string => {
  const d = report.doubleAllocations[0]
  return d === undefined
    ? "none"
    : `${d.address} held by nodes ${d.nodes[0]} and ${d.nodes[1]} from ${d.from} ms ${d.to === Number.POSITIVE_INFINITY ? "to the end" : `to ${d.to} ms`}`
}

const safetyTitle = "no address is ever held by two nodes at the same instant when D <= W"

describe("race safety", () => {
  it(
    safetyTitle,
    () => {
      const runs = checkScenarios(
        safetyTitle,
        safeScenario({ outages: true }),
        (scenario) => {
          const report = runScenarioSync(scenario)
          if (report.duplicates > 0)
            return `${report.duplicates} double allocation(s), first: ${firstDouble(report)}`
          if (report.leaks > 0) return `${report.leaks} route(s) of ours that no holding explains`
          return undefined
        },
        { file, seed: 20_260_501, numRuns: soak ? 4000 : 400 }
      )
      assert.isAtLeast(runs, 1)
    },
    propertyTimeout
  )

  it("the same checker reports the violation when D > W (uniform delays), tie-break on and off", () => {
    for (const tieBreak of [true, false]) {
      const scenario: Scenario = {
        nodes: 20,
        perNode: 5,
        pool: "100.64.0.0/24",
        delay: { _tag: "Uniform", min: 0, max: 400 },
        wait: 250,
        arrival: "burst",
        seed: 11,
        maxAttempts: 10,
        tieBreak
      }
      const report = runScenarioSync(scenario)
      console.log(
        `negative control (D = 400 ms > W = 250 ms, tie-break ${tieBreak ? "on" : "off"}): ${report.duplicates} double allocation(s), first: ${firstDouble(report)}`
      )
      assert.isAbove(report.duplicates, 0)
      const d = report.doubleAllocations[0]!
      assert.notStrictEqual(d.nodes[0], d.nodes[1])
      // the same scenario with every delay inside W is clean: the checker is not just noisy
      const within = runScenarioSync({ ...scenario, delay: { _tag: "Uniform", min: 0, max: 250 } })
      assert.strictEqual(within.duplicates, 0)
    }
  })

  it("the checker finds a violation for generated scenarios with D > W, tie-break on and off", () => {
    for (const tieBreak of [true, false]) {
      const scenarios = fc.sample(
        safeScenario({ slack: fc.constant(2), requested: false, releases: false }).map(
          (s): Scenario => ({ ...s, tieBreak, arrival: "burst", delay: { _tag: "Fixed", ms: s.wait * 2 } })
        ),
        { seed: 7, numRuns: 20 }
      )
      const found = scenarios.map((s) => runScenarioSync(s)).filter((r) => r.duplicates > 0)
      console.log(
        `negative control (fixed D = 2W, tie-break ${tieBreak ? "on" : "off"}): ${found.length}/${scenarios.length} scenarios show double allocations`
      )
      assert.isAbove(found.length, scenarios.length / 2)
    }
  })

  it("an outage longer than W - D breaks safety, and the checker shows it", () => {
    const base: Scenario = {
      nodes: 2,
      perNode: 0,
      pool: "100.64.0.0/24",
      delay: { _tag: "Fixed", ms: 10 },
      wait: 100,
      arrival: "burst",
      seed: 3,
      maxAttempts: 10,
      tieBreak: true,
      requests: [
        { node: 0, at: 0, address: "100.64.0.7" },
        { node: 1, at: 50, address: "100.64.0.7" }
      ]
    }
    // both nodes' announcements are held from 5 ms to 200 ms: each verifies without seeing the other
    const outage = (to: number) => [
      { node: 0, from: 5, to },
      { node: 1, from: 5, to }
    ]
    const broken = runScenarioSync({ ...base, outages: outage(200) })
    console.log(`negative control (outage 195 ms > W - D = 90 ms): ${firstDouble(broken)}`)
    assert.strictEqual(broken.duplicates, 1)
    const held = runScenarioSync({ ...base, outages: outage(95) })
    assert.strictEqual(held.duplicates, 0)
    assert.deepStrictEqual(held.failures, { AddressTaken: 1 })
  })
})
