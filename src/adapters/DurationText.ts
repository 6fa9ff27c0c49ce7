// The one duration parser of the project: "250ms", "1.5s", "5m", "1h", or a bare number of milliseconds.

const unitMillis: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

/** The units `parseDurationMs` reads, for messages and help texts. */
export const durationUnits = "ns, us, ms, s, m, h"

/**
 * Milliseconds of a duration written `<number>[unit]` (unit one of ns, us, ms, s, m, h; spaces
 * allowed around it), or undefined when `text` is not one. A bare number is in `bareUnit`, which
 * is milliseconds everywhere in this project (config keys, every command-line flag); only a range
 * such as `0-200ms` passes its upper bound's unit for the lower bound.
 */
export const parseDurationMs = (text: string, bareUnit = "ms"): number | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ns|us|ms|s|m|h)?\s*$/.exec(text)
  if (match === null) return undefined
  const factor = unitMillis[match[2] ?? bareUnit]
  return factor === undefined ? undefined : Number(match[1]) * factor
}
