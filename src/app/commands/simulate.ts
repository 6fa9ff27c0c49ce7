// `routetable-ipam simulate`: run the claim protocol on N simulated nodes and report double allocations, attempts and latency.
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import {
  type DelayDistribution,
  InvalidDelay,
  parseDelay,
  parseDurationMs
} from "../../adapters/fabric/DelayDistribution.ts"
import { CommandFailed, type OperatorCommand } from "../OperatorCommand.ts"
import type { NodeOrder, Scenario } from "../simulation/Scenario.ts"
import { runScenario } from "../simulation/ScenarioRunner.ts"
import { formatReport, reportToJson } from "../simulation/SimulationReport.ts"

const usage = `Usage: routetable-ipam simulate [flags]

Run the claim protocol (pick, claim, wait W, verify) unchanged on simulated nodes whose claims
and releases reach each other after a random delay, in simulated time, and report double
allocations, attempts, latency and failures. The same flags and seed give the same report.

Flags:
  --nodes N            simulated nodes (default 10)
  --per-node N         allocations per node (default 10)
  --pool CIDR          the pool (default 100.64.0.0/16)
  --delay DIST         propagation delay of each message (default 0-200ms):
                         40ms             fixed
                         0-200ms          uniform between the bounds
                         longtail:20ms    lognormal, median 20 ms, sigma 1, capped at 20 x median
                         longtail:20ms:300ms   the same with an explicit cap
  --wait W             propagation timeout W (default 250ms)
  --arrival MODE       burst (all requests at t = 0, default) or spread
  --spread DURATION    window of spread arrivals (default 60s)
  --order MODE         concurrent (a node's requests all at once, default) or sequential
  --max-attempts N     attempts per allocation (default 10)
  --no-tie-break       disable the tie-break (both claimants of a conflict release)
  --requested F        fraction of requests for an exact address (default 0)
  --release F          fraction of won addresses released after 0..4W and allocated again (default 0)
  --seed S             seed of every random choice (default 1)
  --json               print one JSON object (top-level "duplicates": number of double allocations)
  --help               this text

D, the longest delay the distribution can produce, must not exceed W: then no address is ever
held by two nodes at once. Progress of long runs goes to stderr.

Example:
  routetable-ipam simulate --nodes 1000 --per-node 100 --pool 100.64.0.0/15 --delay longtail:20ms --wait 250ms
`

interface Flags {
  readonly scenario: Scenario
  readonly json: boolean
  readonly help: boolean
}

const usageError = (message: string) =>
  new CommandFailed({
    message: `${message}\nRun 'routetable-ipam simulate --help' for usage.`,
    exitCode: 2
  })

const valueFlags = new Set([
  "--nodes",
  "--per-node",
  "--pool",
  "--delay",
  "--wait",
  "--arrival",
  "--spread",
  "--order",
  "--max-attempts",
  "--requested",
  "--release",
  "--seed"
])

/** Parse the command line into a scenario; a CommandFailed with exit code 2 on any usage error. */
export const parseFlags = (args: ReadonlyArray<string>): Flags | CommandFailed => {
  const values = new Map<string, string>()
  let json = false
  let help = false
  let tieBreak = true
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const eq = arg.indexOf("=")
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg
    if (name === "--json") json = true
    else if (name === "--help" || name === "-h") help = true
    else if (name === "--no-tie-break") tieBreak = false
    else if (valueFlags.has(name)) {
      const value = eq > 0 && arg.startsWith("--") ? arg.slice(eq + 1) : args[++i]
      if (value === undefined) return usageError(`${name} needs a value`)
      values.set(name, value)
    } else return usageError(`unknown argument ${JSON.stringify(arg)}`)
  }
  const integer = (name: string, fallback: number, min: number): number | CommandFailed => {
    const text = values.get(name)
    if (text === undefined) return fallback
    const n = Number(text)
    return Number.isSafeInteger(n) && n >= min ? n : usageError(`${name} must be a whole number >= ${min}`)
  }
  const fraction = (name: string): number | CommandFailed => {
    const text = values.get(name)
    if (text === undefined) return 0
    const n = Number(text)
    return Number.isFinite(n) && n >= 0 && n <= 1 ? n : usageError(`${name} must be a number from 0 to 1`)
  }
  const duration = (name: string, fallback: number): number | CommandFailed => {
    const text = values.get(name)
    if (text === undefined) return fallback
    const ms = parseDurationMs(text)
    return ms === undefined ? usageError(`${name}: not a duration: ${JSON.stringify(text)}`) : ms
  }
  const nodes = integer("--nodes", 10, 1)
  const perNode = integer("--per-node", 10, 0)
  const maxAttempts = integer("--max-attempts", 10, 1)
  const wait = duration("--wait", 250)
  const spreadOver = duration("--spread", 60_000)
  const requestedFraction = fraction("--requested")
  const releaseFraction = fraction("--release")
  const delay: DelayDistribution | CommandFailed = (() => {
    const parsed = parseDelay(values.get("--delay") ?? "0-200ms")
    return parsed instanceof InvalidDelay ? usageError(`--delay ${parsed.message}`) : parsed
  })()
  for (const v of [
    nodes,
    perNode,
    maxAttempts,
    wait,
    spreadOver,
    requestedFraction,
    releaseFraction,
    delay
  ]) {
    if (v instanceof CommandFailed) return v
  }
  const arrival = values.get("--arrival") ?? "burst"
  if (arrival !== "burst" && arrival !== "spread") return usageError("--arrival must be burst or spread")
  const order = values.get("--order") ?? "concurrent"
  if (order !== "concurrent" && order !== "sequential")
    return usageError("--order must be concurrent or sequential")
  const seedText = values.get("--seed") ?? "1"
  const seed = /^-?\d+$/.test(seedText) ? Number(seedText) : seedText
  return {
    json,
    help,
    scenario: {
      nodes: nodes as number,
      perNode: perNode as number,
      pool: values.get("--pool") ?? "100.64.0.0/16",
      delay: delay as DelayDistribution,
      wait: wait as number,
      arrival,
      spreadOver: spreadOver as number,
      seed,
      requestedFraction: requestedFraction as number,
      releaseFraction: releaseFraction as number,
      maxAttempts: maxAttempts as number,
      tieBreak,
      order: order as NodeOrder
    }
  }
}

const progress = (p: { simulatedMs: number; won: number; failed: number; asked: number }) => {
  process.stderr.write(
    `simulate: ${Math.round(p.simulatedMs)} ms simulated, ${p.won} won, ${p.failed} failed of ${p.asked} asked\n`
  )
}

/** The `simulate` operator command. */
export const command: OperatorCommand = {
  name: "simulate",
  summary: "simulate N nodes racing for addresses; find the W that keeps them apart",
  usage,
  run: (args) =>
    Effect.gen(function* () {
      const flags = parseFlags(args)
      if (flags instanceof CommandFailed) return yield* flags
      if (flags.help) return yield* Console.log(usage)
      const started = performance.now()
      const report = yield* runScenario(flags.scenario, { onProgress: progress }).pipe(
        Effect.mapError((e) => usageError(e.message))
      )
      const wallSeconds = Math.round((performance.now() - started) / 10) / 100
      const peakMemoryMb = Math.round(process.resourceUsage().maxRSS / 1024)
      if (flags.json) {
        const json = { ...(reportToJson(report) as object), measured: { wallSeconds, peakMemoryMb } }
        return yield* Console.log(JSON.stringify(json))
      }
      yield* Console.log(
        `${formatReport(report)}\n\nwall ${wallSeconds} s, peak memory ${peakMemoryMb} MB (maxRSS; not simulated)`
      )
    })
}
