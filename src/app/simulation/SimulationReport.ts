// What a simulation run found: double allocations, attempts, latency in simulated time, failures, final views.
import type { DoubleAllocation } from "./HoldingLedger.ts"

/** Latency percentiles of successful allocations, simulated ms. */
export interface LatencySummary {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

/** Whether nodes' routing tables agree once every announcement has arrived. */
export interface FinalViews {
  /** Simulated time the views were read (after every announcement settled), ms. */
  readonly at: number
  /** Nodes whose view was compared (all of them, or a sample for very large runs). */
  readonly checked: number
  /** Checked nodes whose view is exactly: their own holdings plus every visible peer's holdings. */
  readonly consistent: number
  /** Routes in the checked views: fewest and most. */
  readonly routesMin: number
  readonly routesMax: number
  /** Up to 5 nodes whose view differed, with what differed. */
  readonly differences: ReadonlyArray<{
    readonly node: number
    readonly missing: number
    readonly extra: number
  }>
}

/** The result of one scenario. Everything in it is simulated and replays exactly from the seed. */
export interface SimulationReport {
  readonly scenario: {
    readonly nodes: number
    readonly requests: number
    readonly pool: string
    readonly poolSize: number
    readonly delay: string
    /** D: the longest delay the distribution can produce, ms. */
    readonly maxDelay: number
    /** W, ms. */
    readonly wait: number
    readonly arrival: string
    readonly order: string
    readonly seed: string
    readonly tieBreak: boolean
    readonly maxAttempts: number
    readonly outages: number
    readonly hiddenPairs: number
  }
  /** Double allocations: pairs of nodes that held one address at the same instant. */
  readonly duplicates: number
  /** The first 20 of them. */
  readonly doubleAllocations: ReadonlyArray<DoubleAllocation>
  /** Allocations asked for (including re-allocations after releases), won, failed. */
  readonly allocations: { readonly asked: number; readonly won: number; readonly failed: number }
  /** Attempts needed by each won allocation: attempts -> count. */
  readonly attempts: Readonly<Record<string, number>>
  /** Every attempt's outcome: Won, Lost, TieBreakLost, Refused, Vanished -> count. */
  readonly outcomes: Readonly<Record<string, number>>
  readonly latency: LatencySummary
  /** Failures by error tag: PoolExhausted, AttemptsExhausted, AddressTaken, ... -> count. */
  readonly failures: Readonly<Record<string, number>>
  /** Allocations that failed with PoolExhausted. */
  readonly exhausted: number
  /** Routes a node still has for an address it does not hold, plus holdings without a route. */
  readonly leaks: number
  readonly releases: number
  readonly announcements: number
  /** Simulated time when the last allocation or release finished, ms. */
  readonly simulatedMs: number
  readonly finalViews: FinalViews
}

/** Percentiles (nearest rank) of a list of numbers; zeros when empty. */
export const summarizeLatency = (values: ReadonlyArray<number>): LatencySummary => {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
  const sum = sorted.reduce((s, v) => s + v, 0)
  return {
    p50: round(rank(50)),
    p90: round(rank(90)),
    p99: round(rank(99)),
    max: round(sorted[sorted.length - 1]!),
    mean: round(sum / sorted.length)
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100

const histogramLines = (counts: Readonly<Record<string, number>>): Array<string> => {
  const entries = Object.entries(counts)
  const most = Math.max(1, ...entries.map(([, n]) => n))
  return entries.map(
    ([key, n]) => `  ${key.padStart(3)}  ${String(n).padStart(8)}  ${"#".repeat(Math.ceil((n / most) * 40))}`
  )
}

/** The report as readable text (what `routetable-ipam simulate` prints without --json). */
export const formatReport = (report: SimulationReport): string => {
  const s = report.scenario
  const safe = s.maxDelay <= s.wait
  const lines = [
    `scenario   ${s.nodes} nodes, ${s.requests} requests (${s.arrival}, ${s.order} per node), pool ${s.pool} (${s.poolSize} addresses)`,
    `fabric     delay ${s.delay} (D = ${s.maxDelay} ms), W = ${s.wait} ms: ${safe ? "D <= W, no double allocation may occur" : "D > W: double allocations can occur"}` +
      (s.outages + s.hiddenPairs > 0 ? `; ${s.outages} outages, ${s.hiddenPairs} one-sided pairs` : ""),
    `policy     max ${s.maxAttempts} attempts, tie-break ${s.tieBreak ? "on" : "off"}, seed ${s.seed}`,
    "",
    `duplicates ${report.duplicates}`,
    ...report.doubleAllocations
      .slice(0, 5)
      .map(
        (d) =>
          `  ${d.address} held by nodes ${d.nodes[0]} and ${d.nodes[1]} from ${round(d.from)} ms to ${d.to === Number.POSITIVE_INFINITY ? "the end" : `${round(d.to)} ms`}`
      ),
    `allocations ${report.allocations.won} won of ${report.allocations.asked} asked, ${report.allocations.failed} failed` +
      `; ${report.releases} released; leaks ${report.leaks}`,
    `failures   ${
      Object.keys(report.failures).length === 0
        ? "none"
        : Object.entries(report.failures)
            .map(([tag, n]) => `${tag} ${n}`)
            .join(", ")
    } (exhaustion: ${report.exhausted})`,
    "attempts per won allocation",
    ...histogramLines(report.attempts),
    `outcomes   ${Object.entries(report.outcomes)
      .map(([tag, n]) => `${tag} ${n}`)
      .join(", ")}`,
    `latency    p50 ${report.latency.p50} ms, p90 ${report.latency.p90} ms, p99 ${report.latency.p99} ms, max ${report.latency.max} ms (simulated)`,
    `views      ${report.finalViews.consistent}/${report.finalViews.checked} nodes consistent at ${round(report.finalViews.at)} ms` +
      ` (${report.finalViews.routesMin}-${report.finalViews.routesMax} routes each)`,
    ...report.finalViews.differences.map(
      (d) => `  node ${d.node}: ${d.missing} missing, ${d.extra} unexpected`
    ),
    `simulated  ${round(report.simulatedMs)} ms, ${report.announcements} announcements`
  ]
  return lines.join("\n")
}

/** The report as one JSON value (`duplicates` is the number of double allocations; Infinity -> null). */
export const reportToJson = (report: SimulationReport): unknown =>
  JSON.parse(JSON.stringify(report, (_key, value) => (value === Number.POSITIVE_INFINITY ? null : value)))
