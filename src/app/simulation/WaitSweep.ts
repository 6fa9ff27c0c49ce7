// One scenario run at several propagation timeouts W: one row per W, as a table, CSV or JSON.
import type { SimulationReport } from "./SimulationReport.ts"

/** What one run at one W gave. */
export interface WaitSweepRow {
  /** W, ms. */
  readonly wait: number
  /** D, the longest delay the fabric can produce, ms. */
  readonly maxDelay: number
  readonly duplicates: number
  readonly won: number
  readonly failed: number
  /** Attempts per won allocation: mean (two decimals) and max. */
  readonly attemptsMean: number
  readonly attemptsMax: number
  /** Latency of won allocations, simulated ms. */
  readonly p50: number
  readonly p99: number
}

/** The row of one report. */
export const sweepRowOf = (report: SimulationReport): WaitSweepRow => {
  let total = 0
  let count = 0
  let max = 0
  for (const [attempts, n] of Object.entries(report.attempts)) {
    const k = Number.parseInt(attempts, 10)
    if (!Number.isFinite(k)) continue
    total += k * n
    count += n
    if (n > 0) max = Math.max(max, k)
  }
  return {
    wait: report.scenario.wait,
    maxDelay: report.scenario.maxDelay,
    duplicates: report.duplicates,
    won: report.allocations.won,
    failed: report.allocations.failed,
    attemptsMean: count === 0 ? 0 : Math.round((total / count) * 100) / 100,
    attemptsMax: max,
    p50: report.latency.p50,
    p99: report.latency.p99
  }
}

const columns: ReadonlyArray<readonly [string, string, (row: WaitSweepRow) => string]> = [
  ["W", "wait_ms", (r) => `${r.wait}ms`],
  ["D", "max_delay_ms", (r) => `${r.maxDelay}ms`],
  ["DUPLICATES", "duplicates", (r) => String(r.duplicates)],
  ["WON", "won", (r) => String(r.won)],
  ["FAILED", "failed", (r) => String(r.failed)],
  ["ATTEMPTS", "attempts_mean", (r) => r.attemptsMean.toFixed(2)],
  ["MAX ATTEMPTS", "attempts_max", (r) => String(r.attemptsMax)],
  ["P50", "p50_ms", (r) => `${r.p50}ms`],
  ["P99", "p99_ms", (r) => `${r.p99}ms`]
]

/** An aligned table, one row per W (numbers right-aligned), and a line saying which W were safe. */
export const formatSweepTable = (rows: ReadonlyArray<WaitSweepRow>): string => {
  const cells = rows.map((row) => columns.map(([, , cell]) => cell(row)))
  const widths = columns.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)))
  const line = (values: ReadonlyArray<string>) => values.map((v, i) => v.padStart(widths[i]!)).join("  ")
  const clean = rows.filter((r) => r.duplicates === 0).map((r) => `${r.wait}ms`)
  return [
    line(columns.map(([title]) => title)),
    ...cells.map(line),
    "",
    `ATTEMPTS: mean per won allocation; P50/P99: latency of won allocations (simulated).`,
    clean.length === rows.length
      ? "no duplicates at any W"
      : `no duplicates at: ${clean.length === 0 ? "none of these W" : clean.join(", ")}`
  ].join("\n")
}

/** CSV with a header line (machine column names; durations in ms as plain numbers). */
export const formatSweepCsv = (rows: ReadonlyArray<WaitSweepRow>): string =>
  [
    columns.map(([, name]) => name).join(","),
    ...rows.map((r) =>
      [r.wait, r.maxDelay, r.duplicates, r.won, r.failed, r.attemptsMean, r.attemptsMax, r.p50, r.p99].join(
        ","
      )
    )
  ].join("\n")

/** JSON: the rows, and `duplicates`, the total over every W (as a single run's report has it). */
export const sweepToJson = (rows: ReadonlyArray<WaitSweepRow>) => ({
  duplicates: rows.reduce((sum, r) => sum + r.duplicates, 0),
  runs: rows
})
