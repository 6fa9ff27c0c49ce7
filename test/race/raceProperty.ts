// Runs a seeded fast-check property over scenarios; a failure prints the shrunk scenario and how to replay it.
import { assert } from "@effect/vitest"
import fc from "fast-check"
import type { Scenario } from "../../src/app/simulation/Scenario.ts"

/** Options of one race property. */
export interface RaceCheckOptions {
  /** The test file, for the replay command line. */
  readonly file: string
  readonly seed: number
  readonly numRuns: number
}

/**
 * Check `problem(scenario)` is undefined for every generated scenario. Replay a failure with the
 * printed `RACE_SEED=… RACE_PATH=…` (same generation and shrink path) or `RACE_SCENARIO='<json>'`
 * (just that scenario). `name` must be the test's title (the replay line filters on it with -t).
 * Returns how many scenarios ran.
 */
export const checkScenarios = (
  name: string,
  scenarios: fc.Arbitrary<Scenario>,
  problem: (scenario: Scenario) => string | undefined,
  options: RaceCheckOptions
): number => {
  const only = process.env.RACE_SCENARIO
  if (only !== undefined) {
    const found = problem(JSON.parse(only) as Scenario)
    assert.isUndefined(found, `${name}: ${found}`)
    return 1
  }
  const seed = process.env.RACE_SEED === undefined ? options.seed : Number(process.env.RACE_SEED)
  const path = process.env.RACE_PATH
  const details = fc.check(
    fc.property(scenarios, (scenario) => {
      const found = problem(scenario)
      if (found !== undefined) throw new Error(found)
    }),
    { seed, numRuns: options.numRuns, ...(path === undefined ? {} : { path, endOnFailure: true }) }
  )
  if (details.failed) {
    const scenario = JSON.stringify(details.counterexample?.[0])
    const error =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    assert.fail(
      [
        `${name}: falsified after ${details.numRuns} run(s) and ${details.numShrinks} shrink(s)`,
        `Shrunk scenario: ${scenario}`,
        `Failure: ${error}`,
        `Replay: RACE_SEED=${details.seed} RACE_PATH=${details.counterexamplePath} npx vitest run ${options.file} -t ${JSON.stringify(name)}`,
        `   or: RACE_SCENARIO='${scenario}' npx vitest run ${options.file} -t ${JSON.stringify(name)}`
      ].join("\n")
    )
  }
  return details.numRuns
}

/** Add `counts` into `total` (histograms keyed by attempts or tags). */
export const addCounts = (total: Record<string, number>, counts: Readonly<Record<string, number>>): void => {
  for (const [key, n] of Object.entries(counts)) total[key] = (total[key] ?? 0) + n
}
