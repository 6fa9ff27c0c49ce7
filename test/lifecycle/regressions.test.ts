// Shrunk counterexamples of the lifecycle suite, kept as plain tests: each breaks the old rules and holds with today's.
import { assert, describe, it } from "@effect/vitest"
import type { History } from "./LifecycleHistory.ts"
import { runHistory } from "./LifecycleHistory.ts"
import { current, blindVerdict, oldRules } from "./Lifecycles.ts"

const cases: ReadonlyArray<{
  readonly name: string
  readonly history: History
  readonly old: "oldRules" | "blindVerdict"
}> = [
  {
    name: "a stale record of before a reboot: DEL and CNI GC of the old sandbox must not take the new owner's route (issue 8 item 1)",
    old: "oldRules",
    history: {
      nodes: 2,
      seed: 20,
      subnet: "100.64.0.0/29",
      wait: 100,
      maxDelay: 0,
      drops: [],
      steps: [
        { op: "add", at: 0, node: 1, container: 0, request: 2 },
        { op: "reboot", at: 0, node: 1 },
        { op: "add", at: 1, node: 0, container: 0 },
        { op: "cniGc", at: 0, node: 0 },
        { op: "cniGc", at: 101, node: 1 },
        { op: "del", at: 0, node: 0, container: 0, hint: false },
        { op: "add", at: 0, node: 1, container: 1 }
      ]
    }
  },
  {
    name: "after a reboot, DEL of the pre-reboot container leaves this boot's owner alone (issue 8 item 1)",
    old: "oldRules",
    history: {
      nodes: 2,
      seed: 234847134,
      subnet: "100.64.0.0/29",
      wait: 100,
      maxDelay: 0,
      drops: [],
      steps: [
        { op: "add", at: 1, node: 0, container: 2 },
        { op: "reboot", at: 1, node: 0 },
        { op: "add", at: 1, node: 0, container: 0 },
        { op: "add", at: 102, node: 0, container: 1 },
        { op: "add", at: 0, node: 0, container: 1 },
        { op: "del", at: 0, node: 0, container: 0, hint: false }
      ]
    }
  },
  {
    name: "a crashed ADD's record and a gc: the address another container got must keep its route (issue 8 items 2-3)",
    old: "oldRules",
    history: {
      nodes: 2,
      seed: 13,
      subnet: "100.64.0.0/29",
      wait: 100,
      maxDelay: 0,
      drops: [],
      steps: [
        { op: "add", at: 102, node: 1, container: 2 },
        { op: "add", at: 1, node: 1, container: 0 },
        { op: "add", at: 0, node: 1, container: 2, request: 2, crash: 4 },
        { op: "check", at: 0, node: 0, container: 0 },
        { op: "gc", at: 0, node: 0, keep: false, graceMillis: 0 }
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
      drops: [{ a: 0, b: 1, from: 150, to: 200 }],
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
      const before = runHistory(history, old === "oldRules" ? oldRules : blindVerdict).violations
      assert.isAbove(before.length, 0, "the counterexample no longer breaks the old rules: it tests nothing")
    })
  }
})
