// `npm run bench`: ADD under a nearly full table, cold start, every verb and a 64-pod burst, as tables with ratios to `node -e 0`.
import { measureScenario, type ScenarioResult, scenarios } from "./addUnderLoad.ts"
import { median } from "./MeasuredProcess.ts"
import {
  formatAddCostTable,
  formatStartupTable,
  measureAddFixedCost,
  measureStartup
} from "./startupTable.ts"
import { burstShapesTable } from "./burstShapes.ts"
import { verbTables } from "./verbs.ts"

const runs = Number(process.env.RUNS ?? 10)
const waitMs = 250

const ms = (x: number) => x.toFixed(0).padStart(7)
const mb = (kb: number) => (Number.isNaN(kb) ? "    n/a" : (kb / 1024).toFixed(1).padStart(7))

const main = async () => {
  console.log(
    `routetable-ipam bench: ${runs} timed runs per row (after 1 warm-up), W = ${waitMs} ms, pool 100.64.0.0/16`
  )
  console.log(`node ${process.version}, ${new Date().toISOString()}\n`)
  const results: Array<ScenarioResult> = []
  for (const scenario of scenarios) {
    process.stderr.write(`measuring: ${scenario.name} ...\n`)
    results.push(await measureScenario(scenario, runs, waitMs))
  }
  const base = median(results[0]!.samples.map((s) => s.wallMs))
  console.log("ADD (wall time of the whole process, ms)")
  console.log("| table | host routes | median | min | max | ratio to empty | peak RSS MB |")
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  for (const r of results) {
    const walls = r.samples.map((s) => s.wallMs)
    const m = median(walls)
    console.log(
      `| ${r.scenario.name} | ${r.routes} | ${ms(m)} | ${ms(Math.min(...walls))} | ${ms(Math.max(...walls))} | ${(m / base).toFixed(2)} | ${mb(Math.max(...r.samples.map((s) => s.rssKb)))} |`
    )
  }
  console.log(`\nADD fixed cost of the bundle (empty-table median minus W): ${(base - waitMs).toFixed(0)} ms`)
  process.stderr.write("measuring: start-up (floor, VERSION, CNI core) ...\n")
  const startupRuns = Math.max(runs, 20)
  console.log(
    '\nStart-up: `node -e 0` is the floor; "before (eager)" rebuilds the old entry (static imports) for comparison'
  )
  console.log(formatStartupTable(await measureStartup(startupRuns)))
  process.stderr.write("measuring: ADD fixed cost of each shipped form ...\n")
  console.log("\nADD fixed cost per shipped form (empty /16, private namespace)")
  console.log(formatAddCostTable(await measureAddFixedCost(runs, waitMs), waitMs))
  console.log("\nEvery verb and the 64-pod burst (issue 10), against `node -e 0` in the same run")
  console.log(await verbTables({ verbs: true, burst: true }))
  process.stderr.write("measuring: the burst's shapes ...\n")
  console.log("\nWhat sharing one network's records costs a burst (single executable)")
  console.log(await burstShapesTable())
  console.log(
    "\nTargets: every ADD ratio <= 1.3 and VERSION median <= 150 ms (issue 2); VERSION <= 1.5x the floor (issue 5); per verb <= 1.5x (SEA) / 2x (bundle), burst within W + 1.5 s / 1.5 s, RSS <= 72 MiB (issue 10)."
  )
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
