// Unknown config keys that are a typo of a known one ("propagationTimout"): refused, where other unknown keys are ignored.
import { IpamConf, RangeEntry } from "./NetConf.ts"

/** Keys host-local reads that this plugin ignores: spelled right, they are no typo. */
const standardIgnoredKeys = ["resolvConf"]

/** Every key of the `ipam` object the plugin or host-local knows. */
export const knownIpamKeys: ReadonlyArray<string> = [...Object.keys(IpamConf.fields), ...standardIgnoredKeys]

/** Every key of one `ranges` entry. */
export const knownRangeKeys: ReadonlyArray<string> = Object.keys(RangeEntry.fields)

/** Largest edit distance still taken for a typo. */
const maxTypoDistance = 2

/** Shortest unknown key checked: shorter ones are too close to everything. */
const minTypoLength = 4

/**
 * Damerau-Levenshtein distance (optimal string alignment: insert, delete, substitute, swap two
 * neighbours), or `max + 1` as soon as it must exceed `max`.
 */
export const editDistance = (a: string, b: string, max: number = maxTypoDistance): number => {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let before: Array<number> = []
  let previous: Array<number> = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current: Array<number> = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1)
      current.push(d)
      rowMin = Math.min(rowMin, d)
    }
    if (rowMin > max) return max + 1
    before = previous
    previous = current
  }
  return Math.min(previous[b.length]!, max + 1)
}

/** The known key `key` is probably a misspelling of (case-insensitive, distance <= 2), if any. */
export const typoOf = (key: string, known: ReadonlyArray<string>): string | undefined => {
  if (known.includes(key) || key.length < minTypoLength) return undefined
  const lower = key.toLowerCase()
  let best: { readonly key: string; readonly distance: number } | undefined
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase())
    if (distance <= maxTypoDistance && (best === undefined || distance < best.distance)) {
      best = { key: candidate, distance }
    }
  }
  return best?.key
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const typoIn = (value: unknown, path: string, known: ReadonlyArray<string>): string | undefined => {
  if (!isObject(value)) return undefined
  for (const key of Object.keys(value)) {
    const meant = typoOf(key, known)
    if (meant !== undefined) return `${path}.${key}: unknown key; did you mean ${meant}?`
  }
  return undefined
}

/**
 * "ipam.propagationTimout: unknown key; did you mean propagationTimeout?" for the first key of
 * the raw `ipam` object (or of one of its `ranges` entries) that is a near miss of a known key.
 * Unrelated unknown keys pass: host-local ignores them, and other tools put their own keys there.
 */
export const misspeltIpamKey = (ipam: unknown): string | undefined => {
  const top = typoIn(ipam, "ipam", knownIpamKeys)
  if (top !== undefined || !isObject(ipam) || !Array.isArray(ipam.ranges)) return top
  for (const [i, set] of ipam.ranges.entries()) {
    if (!Array.isArray(set)) continue
    for (const [j, entry] of set.entries()) {
      const found = typoIn(entry, `ipam.ranges[${i}][${j}]`, knownRangeKeys)
      if (found !== undefined) return found
    }
  }
  return undefined
}
