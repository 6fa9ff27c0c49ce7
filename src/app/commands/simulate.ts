// `routetable-ipam simulate`: run the claim protocol on N simulated nodes at one or several W; report double allocations, attempts and latency.
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { parseDelay } from "../../adapters/fabric/DelayDistribution.ts"
import { versionText } from "../BuildInfo.ts"
import { CommandFailed, type OperatorCommand } from "../OperatorCommand.ts"
import type { Scenario } from "../simulation/Scenario.ts"
import { runScenario } from "../simulation/ScenarioRunner.ts"
import { formatReport, reportToJson, type SimulationReport } from "../simulation/SimulationReport.ts"
import { formatSweepCsv, formatSweepTable, sweepRowOf, sweepToJson } from "../simulation/WaitSweep.ts"
import { durationFlag, durationListFlag, helpText, jsonFlag, switchFlag } from "./CliFlags.ts"

const description = `Run the claim protocol (pick, claim, wait W, verify) unchanged on simulated nodes whose claims
and releases reach each other after a random delay, in simulated time, and report double
allocations, attempts, latency and failures. The same flags and seed give the same report.

D, the longest delay the --delay distribution can produce, must not exceed W: then no address is
ever held by two nodes at once. With several W (--wait 50ms,100ms,250ms) the same scenario runs
once per W and one table compares them. Progress of long runs goes to stderr.

--delay forms: 40ms (fixed), 0-200ms (uniform), longtail:20ms (lognormal, median 20 ms, sigma 1,
capped at 20 x median), longtail:20ms:300ms (explicit cap). Durations: 250ms, 1.5s, 1m; a bare
number is milliseconds.

Exit status: 0; 1 with --check when any run had duplicates; 2 for a usage error.`

const atLeast = (min: number) => (flag: Flag.Flag<number>) =>
  flag.pipe(
    Flag.filter(
      (n) => Number.isSafeInteger(n) && n >= min,
      (n) => `${n} must be a whole number >= ${min}`
    )
  )

const fraction = (name: string, what: string) =>
  Flag.Finite(name).pipe(
    Flag.withMetavar("F"),
    Flag.withDescription(what),
    Flag.filter(
      (n) => n >= 0 && n <= 1,
      (n) => `${n} must be a number from 0 to 1`
    ),
    Flag.withDefault(0)
  )

/** Every flag of `simulate`. */
export const simulateFlags = {
  nodes: Flag.Int("nodes").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription("simulated nodes"),
    atLeast(1),
    Flag.withDefault(10)
  ),
  perNode: Flag.Int("per-node").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription("allocations per node"),
    atLeast(0),
    Flag.withDefault(10)
  ),
  pool: Flag.String("pool").pipe(
    Flag.withMetavar("CIDR"),
    Flag.withDescription("the pool"),
    Flag.withDefault("100.64.0.0/16")
  ),
  delay: Flag.String("delay").pipe(
    Flag.withMetavar("DIST"),
    Flag.withDescription("propagation delay of each message: 40ms, 0-200ms, longtail:20ms[:300ms]"),
    Flag.withDefault("0-200ms"),
    Flag.mapTryCatch(
      (text) => {
        const parsed = parseDelay(text)
        if (parsed._tag === "InvalidDelay") throw new Error(parsed.message)
        return parsed
      },
      (error) => (error instanceof Error ? error.message : String(error))
    )
  ),
  wait: durationListFlag("wait").pipe(
    Flag.withDescription(
      "propagation timeout W; several, comma-separated, run one scenario each (default 250ms)"
    ),
    Flag.withDefault([250] as ReadonlyArray<number>)
  ),
  arrival: Flag.Literals("arrival", ["burst", "spread"]).pipe(
    Flag.withDescription("burst: every request at t = 0; spread: uniform over --spread"),
    Flag.withDefault("burst" as const)
  ),
  spread: durationFlag("spread").pipe(
    Flag.withDescription("window of spread arrivals (default 60s)"),
    Flag.withDefault(60_000)
  ),
  order: Flag.Literals("order", ["concurrent", "sequential"]).pipe(
    Flag.withDescription("a node's requests all at once, or one after another"),
    Flag.withDefault("concurrent" as const)
  ),
  maxAttempts: Flag.Int("max-attempts").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription("attempts per allocation"),
    atLeast(1),
    Flag.withDefault(10)
  ),
  noTieBreak: switchFlag("no-tie-break", "disable the tie-break (both claimants of a conflict release)"),
  requested: fraction("requested", "fraction of requests for an exact address"),
  release: fraction("release", "fraction of won addresses released after 0..4W and allocated again"),
  seed: Flag.String("seed").pipe(
    Flag.withMetavar("S"),
    Flag.withDescription("seed of every random choice"),
    Flag.withDefault("1")
  ),
  json: jsonFlag(
    'one JSON object: one W: the whole report (top-level "duplicates"); several: {duplicates (total), runs: [{wait, maxDelay, duplicates, won, failed, attemptsMean, attemptsMax, p50, p99}]}'
  ),
  csv: switchFlag("csv", "the table as CSV (one row per W, durations in ms)"),
  check: switchFlag("check", "exit with status 1 when any run had duplicates")
}

type SimulateInput = Command.Command.Config.Infer<typeof simulateFlags>

const usageError = (message: string) =>
  new CommandFailed({ message: `${message}\nRun 'routetable-ipam simulate --help' for usage.`, exitCode: 2 })

/** The scenario the flags describe, at one W. */
export const scenarioOf = (input: SimulateInput, wait: number): Scenario => ({
  nodes: input.nodes,
  perNode: input.perNode,
  pool: input.pool,
  delay: input.delay,
  wait,
  arrival: input.arrival,
  spreadOver: input.spread,
  seed: /^-?\d+$/.test(input.seed) ? Number(input.seed) : input.seed,
  requestedFraction: input.requested,
  releaseFraction: input.release,
  maxAttempts: input.maxAttempts,
  tieBreak: !input.noTieBreak,
  order: input.order
})

const progress = (p: { simulatedMs: number; won: number; failed: number; asked: number }) => {
  process.stderr.write(
    `simulate: ${Math.round(p.simulatedMs)} ms simulated, ${p.won} won, ${p.failed} failed of ${p.asked} asked\n`
  )
}

const simulate = (input: SimulateInput): Effect.Effect<void, CommandFailed> =>
  Effect.gen(function* () {
    const started = performance.now()
    const reports: Array<SimulationReport> = []
    for (const wait of input.wait) {
      reports.push(
        yield* runScenario(scenarioOf(input, wait), { onProgress: progress }).pipe(
          Effect.mapError((e) => usageError(e.message))
        )
      )
    }
    const wallSeconds = Math.round((performance.now() - started) / 10) / 100
    const peakMemoryMb = Math.round(process.resourceUsage().maxRSS / 1024)
    const measured = { wallSeconds, peakMemoryMb }
    const rows = reports.map(sweepRowOf)
    if (input.json && reports.length === 1) {
      yield* Console.log(JSON.stringify({ ...(reportToJson(reports[0]!) as object), measured }))
    } else if (input.json) {
      yield* Console.log(JSON.stringify({ ...sweepToJson(rows), measured }))
    } else if (input.csv) {
      yield* Console.log(formatSweepCsv(rows))
    } else if (reports.length === 1) {
      yield* Console.log(
        `${formatReport(reports[0]!)}\n\nwall ${wallSeconds} s, peak memory ${peakMemoryMb} MB (maxRSS; not simulated)`
      )
    } else {
      const first = reports[0]!.scenario
      yield* Console.log(
        `scenario   ${first.nodes} nodes, ${first.requests} requests (${first.arrival}, ${first.order} per node), pool ${first.pool}, delay ${first.delay}, seed ${first.seed}\n\n` +
          `${formatSweepTable(rows)}\n\nwall ${wallSeconds} s, peak memory ${peakMemoryMb} MB (maxRSS; not simulated)`
      )
    }
    const duplicates = rows.reduce((sum, r) => sum + r.duplicates, 0)
    if (input.check && duplicates > 0) {
      const at = rows.filter((r) => r.duplicates > 0).map((r) => `${r.duplicates} at W = ${r.wait} ms`)
      return yield* new CommandFailed({ message: `--check: duplicates found: ${at.join(", ")}`, exitCode: 1 })
    }
  })

/** `routetable-ipam simulate`. */
export const simulateCommand = Command.make("simulate", simulateFlags, simulate).pipe(
  Command.withDescription(helpText(description)),
  Command.withShortDescription("simulate N nodes racing for addresses; find the W that keeps them apart"),
  Command.withExamples([
    {
      command:
        "routetable-ipam simulate --nodes 1000 --per-node 100 --pool 100.64.0.0/15 --delay longtail:20ms:250ms --wait 250ms",
      description: "a large cluster whose delays never exceed W: no duplicates"
    },
    {
      command: "routetable-ipam simulate --delay longtail:20ms --wait 50ms,100ms,250ms,500ms --check",
      description: "compare W for an uncapped long tail; exit 1 if any W showed duplicates"
    }
  ])
)

/**
 * `simulate` as a function of its arguments (demo.ts runs it this way): the same parser, help and
 * usage errors (exit code 2) as the command line.
 */
export const command: OperatorCommand = {
  name: "simulate",
  summary: "simulate N nodes racing for addresses; find the W that keeps them apart",
  usage: description,
  run: (args) =>
    Command.runWith(simulateCommand, { version: versionText })(args).pipe(
      Effect.catch((error) =>
        error instanceof CommandFailed
          ? Effect.fail(error)
          : error._tag === "ShowHelp" && error.errors.length === 0
            ? Effect.void
            : Effect.fail(
                usageError(
                  error._tag === "ShowHelp" ? error.errors.map((e) => e.message).join("\n") : error.message
                )
              )
      ),
      Effect.provide(NodeServices.layer)
    )
}
