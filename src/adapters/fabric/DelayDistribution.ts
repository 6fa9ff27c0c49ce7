// How long a claim or release takes to reach another node: fixed, uniform, or a capped long tail.
import * as Data from "effect/Data"
import { parseDurationMs } from "../DurationText.ts"

/**
 * A propagation-delay distribution, in milliseconds.
 * - `Fixed`: every message takes `ms`.
 * - `Uniform`: uniform in [min, max].
 * - `LongTail`: lognormal with the given median and sigma 1 (p90 = 3.6 x median,
 *   p99 = 10 x median), cut at `cap`. Written `longtail:<median>[:<cap>]`; cap defaults to 20 x median.
 */
export type DelayDistribution =
  | { readonly _tag: "Fixed"; readonly ms: number }
  | { readonly _tag: "Uniform"; readonly min: number; readonly max: number }
  | { readonly _tag: "LongTail"; readonly median: number; readonly cap: number }

/** Text that is not a delay or duration this module understands. */
export class InvalidDelay extends Data.TaggedError("InvalidDelay")<{ readonly message: string }> {}

/** The project's one duration parser (a bare number is milliseconds), re-exported for this module's users. */
export { parseDurationMs }

/** The longest delay the distribution can produce: D in DESIGN.md's safety argument. */
export const maxDelayOf = (delay: DelayDistribution): number => {
  switch (delay._tag) {
    case "Fixed":
      return delay.ms
    case "Uniform":
      return delay.max
    case "LongTail":
      return delay.cap
  }
}

/** Draw a delay from two independent uniforms in (0, 1) (deterministic for given uniforms). */
export const sampleDelay = (delay: DelayDistribution, u1: number, u2: number): number => {
  switch (delay._tag) {
    case "Fixed":
      return delay.ms
    case "Uniform":
      return delay.min + (delay.max - delay.min) * u1
    case "LongTail": {
      const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
      return Math.min(delay.cap, delay.median * Math.exp(z))
    }
  }
}

/** Print a distribution the way `parseDelay` reads it. */
export const formatDelay = (delay: DelayDistribution): string => {
  switch (delay._tag) {
    case "Fixed":
      return `${delay.ms}ms`
    case "Uniform":
      return `${delay.min}-${delay.max}ms`
    case "LongTail":
      return `longtail:${delay.median}ms:${delay.cap}ms`
  }
}

/**
 * Parse `40ms` (fixed), `0-200ms` (uniform; a unit on the upper bound applies to both), or
 * `longtail:<median>[:<cap>]` (lognormal, sigma 1, cut at cap; default cap 20 x median).
 */
export const parseDelay = (text: string): DelayDistribution | InvalidDelay => {
  const bad = (why: string) =>
    new InvalidDelay({
      message: `${JSON.stringify(text)}: ${why} (expected e.g. 40ms, 0-200ms or longtail:20ms[:400ms])`
    })
  const trimmed = text.trim()
  if (trimmed.startsWith("longtail:")) {
    const [medianText, capText, ...rest] = trimmed.slice("longtail:".length).split(":")
    const median = parseDurationMs(medianText ?? "")
    if (median === undefined || median <= 0 || rest.length > 0) return bad("not a median duration")
    const cap = capText === undefined ? median * 20 : parseDurationMs(capText)
    if (cap === undefined || cap < median) return bad("the cap must be a duration >= the median")
    return { _tag: "LongTail", median, cap }
  }
  const range = /^([^-]+)-([^-]+)$/.exec(trimmed)
  if (range !== null) {
    const upperUnit = /(ns|us|ms|s|m)$/.exec(range[2]!.trim())?.[1] ?? "ms"
    const min = parseDurationMs(range[1]!, upperUnit)
    const max = parseDurationMs(range[2]!)
    if (min === undefined || max === undefined) return bad("not a range of durations")
    if (min > max) return bad("the lower bound exceeds the upper")
    return { _tag: "Uniform", min, max }
  }
  const ms = parseDurationMs(trimmed)
  return ms === undefined ? bad("not a duration") : { _tag: "Fixed", ms }
}
