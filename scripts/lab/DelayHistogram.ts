// `lab measure` in text: a histogram of propagation delays and the `--delay` distribution to paste into `simulate`.
import { type DelayDistribution, formatDelay } from "../../src/adapters/fabric/DelayDistribution.ts"
import type { DelayStats, PropagationSamples } from "./Propagation.ts"

/** One bucket: delays in [fromMs, toMs) (toMs undefined: no upper bound). */
export interface Bucket {
  readonly fromMs: number
  readonly toMs: number | undefined
  readonly count: number
}

/** Bucket bounds in ms, roughly 1-2-5 per decade: fine where BIRD's delays sit, coarse in the tail. */
export const defaultBoundsMs: ReadonlyArray<number> = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000]

/** Count delays into buckets [0, b0), [b0, b1), ..., [bLast, inf): every delay lands in exactly one. */
export const histogram = (
  delaysMs: ReadonlyArray<number>,
  boundsMs: ReadonlyArray<number> = defaultBoundsMs
): ReadonlyArray<Bucket> => {
  const edges = [0, ...boundsMs]
  const buckets = edges.map((fromMs, i) => ({ fromMs, toMs: boundsMs[i], count: 0 }))
  for (const delay of delaysMs) {
    const index = boundsMs.findIndex((bound) => delay < bound)
    buckets[index === -1 ? buckets.length - 1 : index]!.count++
  }
  return buckets
}

const ms = (value: number) => `${value}ms`

/**
 * The histogram as text, one line per bucket from the first to the last non-empty one, a bar of
 * `#` scaled to `width` (a non-empty bucket gets at least one), and the count.
 */
export const formatHistogram = (buckets: ReadonlyArray<Bucket>, width = 40): string => {
  const used = buckets.flatMap((b, i) => (b.count > 0 ? [i] : []))
  if (used.length === 0) return "  (no samples)"
  const shown = buckets.slice(used[0], used.at(-1)! + 1)
  const max = Math.max(...shown.map((b) => b.count))
  const labels = shown.map((b) =>
    b.toMs === undefined ? `>= ${ms(b.fromMs)}` : `${ms(b.fromMs)} - ${ms(b.toMs)}`
  )
  const labelWidth = Math.max(...labels.map((l) => l.length))
  const countWidth = String(max).length
  return shown
    .map((b, i) => {
      const bar = b.count === 0 ? "" : "#".repeat(Math.max(1, Math.round((b.count / max) * width)))
      return `  ${labels[i]!.padStart(labelWidth)} | ${String(b.count).padStart(countWidth)} ${bar}`.trimEnd()
    })
    .join("\n")
}

const median = (sorted: ReadonlyArray<number>): number => sorted[Math.floor(sorted.length / 2)] ?? Number.NaN

/**
 * The distribution `simulate --delay` reads that matches a measurement: lognormal (`longtail`) with
 * the median of single claims, capped at the longest delay seen in any round (so D, the cap, covers
 * every measured delay). Values in ms, the median rounded to 0.01 ms, the cap rounded up to it.
 * Undefined without samples.
 */
export const delayDistributionOf = (
  singleMs: ReadonlyArray<number>,
  allMs: ReadonlyArray<number>
): DelayDistribution | undefined => {
  if (singleMs.length === 0 || allMs.length === 0) return undefined
  const typical = Math.max(0.01, Math.round(median([...singleMs].sort((a, b) => a - b)) * 100) / 100)
  const worst = Math.ceil(Math.max(...allMs) * 100) / 100
  return { _tag: "LongTail", median: typical, cap: Math.max(typical, worst) }
}

/** The `--delay` argument for that distribution, e.g. `longtail:0.65ms:12.4ms`. */
export const delayFlagOf = (delay: DelayDistribution): string => formatDelay(delay)

const statsLine = (stats: DelayStats): string =>
  `median ${stats.medianMs} ms, p95 ${stats.p95Ms} ms, max ${stats.maxMs} ms; ${stats.samples} samples, ${stats.missing} missing`

/** What `lab measure` prints without --json: both rounds with their histograms, then the `--delay` to paste. */
export const formatMeasurement = ({ report, delaysMs }: PropagationSamples): string => {
  const receivers = report.nodes - 1
  const delay = delayDistributionOf(delaysMs.sequential, [...delaysMs.sequential, ...delaysMs.burst])
  return [
    `claim propagation on a ${report.nodes}-node lab, IPv${report.family}: ${report.routes} routes from one node, ` +
      `seen by ${receivers} other node${receivers === 1 ? "" : "s"} (${report.routes * receivers} samples per round)`,
    "",
    `single claims (one at a time): ${statsLine(report.sequential)}`,
    formatHistogram(histogram(delaysMs.sequential)),
    "",
    `burst (all at once, counted from the first insert): ${statsLine(report.burst)}`,
    formatHistogram(histogram(delaysMs.burst)),
    "",
    delay === undefined
      ? "no delay was measured: nothing to paste into simulate"
      : [
          "for simulate (median of single claims, capped at the longest delay seen):",
          `  routetable-ipam simulate --nodes ${report.nodes} --delay ${delayFlagOf(delay)}`
        ].join("\n")
  ].join("\n")
}
