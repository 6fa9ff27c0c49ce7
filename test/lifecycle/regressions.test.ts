// Shrunk counterexamples of the lifecycle suite, kept as plain tests: each breaks the old rules and holds with today's.
import { assert, describe, it } from "@effect/vitest"
import type { History } from "./LifecycleHistory.ts"
import { runHistory } from "./LifecycleHistory.ts"
import { blindVerdict, current, oldRules, planTrustingGc } from "./Lifecycles.ts"

const controls = { oldRules, blindVerdict, planTrustingGc }

const cases: ReadonlyArray<{
  readonly name: string
  readonly history: History
  readonly old: "oldRules" | "blindVerdict" | "planTrustingGc"
}> = [
  {
    name: "a stale record of before a reboot: CNI GC and the runtime's DEL of old sandboxes must not take a new owner's route (issue 8 item 1)",
    old: "oldRules",
    history: {
      nodes: 3,
      seed: 0,
      subnet: "100.64.0.0/29",
      wait: 100,
      maxDelay: 0,
      drops: [],
      steps: [
        { op: "reboot", at: 2, node: 1 },
        { op: "add", at: 106, node: 1, container: 1 },
        { op: "add", at: 2, node: 1, container: 0 },
        { op: "add", at: 0, node: 0, container: 0 },
        { op: "add", at: 0, node: 0, container: 1 },
        { op: "cniGc", at: 0, node: 0 },
        { op: "add", at: 0, node: 1, container: 1 }
      ]
    }
  },
  {
    name: "after a reboot, a plain gc and the new ADDs: the old records never release this boot's routes (issue 8 item 1)",
    old: "oldRules",
    history: {
      nodes: 3,
      seed: 0,
      subnet: "100.64.0.0/29",
      wait: 100,
      maxDelay: 0,
      drops: [],
      steps: [
        { op: "gc", at: 111, node: 2, keep: false, graceMillis: 0 },
        { op: "reboot", at: 0, node: 0 },
        { op: "cniGc", at: 0, node: 0 },
        { op: "add", at: 7, node: 2, container: 0 },
        { op: "add", at: 0, node: 0, container: 0 }
      ]
    }
  },
  {
    name: "a crashed dual-stack ADD and a CNI GC: the address another container got must keep its route (issue 8 items 2-3)",
    old: "oldRules",
    history: {
      nodes: 3,
      seed: 273097667,
      subnet: "100.64.0.0/29",
      subnet6: "fd00:64::/125",
      slowWrites: false,
      wait: 100,
      maxDelay: 0,
      drops: [],
      steps: [
        { op: "add", at: 104, node: 1, container: 0 },
        { op: "add", at: 0, node: 1, container: 1 },
        { op: "add", at: 0, node: 1, container: 0, crash: 4 },
        { op: "cniGc", at: 0, node: 0 },
        { op: "del", at: 0, node: 0, container: 0, hint: false }
      ]
    }
  },
  {
    name: "a plain gc (grace 0) planned while an ADD waited: the ADD confirms before the gc acts, and keeps its route (the GC re-decides under the owner's lock)",
    old: "planTrustingGc",
    history: {
      nodes: 2,
      seed: 0,
      subnet: "100.64.0.0/29",
      slowWrites: false,
      slowListings: false,
      wait: 100,
      maxDelay: 0,
      drops: [],
      steps: [
        { op: "add", at: 1234, node: 1, container: 0 },
        { op: "gc", at: 1337, node: 1, keep: false, graceMillis: 0 },
        { op: "add", at: 0, node: 0, container: 0 },
        { op: "del", at: 1338, node: 0, container: 0, hint: false },
        { op: "add", at: 0, node: 0, container: 0 }
      ]
    }
  },
  {
    name: "a session that drops while both claimants wait: never two winners (issue 8 item 4)",
    old: "blindVerdict",
    history: {
      nodes: 2,
      seed: 0,
      subnet: "100.64.0.0/29",
      wait: 100,
      maxDelay: 1,
      drops: [{ a: 0, b: 1, from: 150, to: 202 }],
      steps: [
        { op: "add", at: 100, node: 0, container: 0, request: 0 },
        { op: "add", at: 100, node: 1, container: 0, request: 0 },
        { op: "check", at: 600, node: 0, container: 0 },
        { op: "check", at: 600, node: 1, container: 0 }
      ]
    }
  }
]

describe("lifecycle regressions (shrunk counterexamples)", () => {
  for (const { name, history, old } of cases) {
    it(name, () => {
      assert.deepStrictEqual(runHistory(history, current).violations, [])
      const before = runHistory(history, controls[old]).violations
      assert.isAbove(before.length, 0, "the counterexample no longer breaks the old rules: it tests nothing")
    })
  }
})
