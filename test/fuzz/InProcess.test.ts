// Fuzz level 1: the decoder and every verb through the CNI core with memory adapters, thousands of malformed inputs.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { makeMemoryNode, type MemoryNode } from "../../src/app/plugin/PluginAdapters.ts"
import { type CniOutcome, runCni } from "../app/plugin/CniHarness.ts"
import { type FuzzCase, fuzzCase } from "./FuzzCases.ts"
import { checkAnswer, reportRate, soak } from "./FuzzProperties.ts"

const seed = Number(process.env.FUZZ_SEED ?? 20_261_129)
const numRuns = soak ? 30_000 : 2_500

/** Longest one in-process call may take (wall clock; the propagation wait runs on the TestClock). */
const callBoundMillis = 5_000

const run = (
  node: MemoryNode,
  fuzz: FuzzCase,
  command: string
): Promise<{ outcome: CniOutcome; millis: number }> => {
  const started = performance.now()
  const env = { ...fuzz.env, CNI_COMMAND: command }
  return Effect.runPromise(runCni(node, env, fuzz.stdin).pipe(Effect.provide(TestClock.layer()))).then(
    (outcome) => ({
      outcome,
      millis: performance.now() - started
    })
  )
}

/** What the node holds: routes and the records of every network a call configured. */
const leftovers = (node: MemoryNode) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const routes = yield* node.routes.snapshot
      const networks = [...new Set(node.settingsSeen().map((s) => s.network))]
      const records = yield* Effect.forEach(networks, (network) => node.attachments.list(network))
      return { routes: routes.length, records: records.flat().length }
    })
  )

/** Every property of one case; undefined when all hold. */
const checkCase = async (fuzz: FuzzCase): Promise<string | undefined> => {
  const node = await Effect.runPromise(makeMemoryNode())
  const first = await run(node, fuzz, fuzz.command)
  if (first.millis > callBoundMillis) return `took ${first.millis.toFixed(0)} ms; ${fuzz.fault}`
  const problem = checkAnswer(fuzz, first.outcome.status, first.outcome.stdout)
  if (problem !== undefined) return problem
  if (fuzz.command !== "ADD") return undefined
  if (first.outcome.status !== 0) {
    const left = await leftovers(node)
    if (left.routes > 0 || left.records > 0)
      return `a failed ADD left ${left.routes} route(s) and ${left.records} record(s); ${fuzz.fault}`
    return undefined
  }
  // DEL of anything an ADD accepted succeeds, and leaves nothing
  const del = await run(node, fuzz, "DEL")
  const delProblem = checkAnswer(
    { ...fuzz, command: "DEL", codes: [0], fault: `DEL after ${fuzz.fault}` },
    del.outcome.status,
    del.outcome.stdout
  )
  if (delProblem !== undefined) return delProblem
  const left = await leftovers(node)
  if (left.routes > 0 || left.records > 0)
    return `DEL after a successful ADD left ${left.routes} route(s) and ${left.records} record(s); ${fuzz.fault}`
  return undefined
}

describe("fuzz: the CNI core in-process", () => {
  it(
    `${numRuns} malformed or odd invocations get a clean answer and leave nothing behind (seed ${seed})`,
    async () => {
      let inputs = 0
      const started = performance.now()
      await fc.assert(
        fc.asyncProperty(
          fuzzCase({ dataDir: "/var/lib/cni/routetable-ipam-fuzz-not-written" }),
          async (fuzz) => {
            inputs++
            const problem = await checkCase(fuzz)
            if (problem !== undefined) throw new Error(problem)
          }
        ),
        { seed, numRuns, endOnFailure: true }
      )
      reportRate("in-process (CNI core, memory adapters)", inputs, performance.now() - started)
      assert.strictEqual(inputs, numRuns)
    },
    soak ? 1_800_000 : 120_000
  )
})
