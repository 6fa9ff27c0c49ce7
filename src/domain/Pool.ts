// Pools: the addresses one range set may hand out, as sorted disjoint intervals of numbers.
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import {
  type Cidr,
  type Family,
  firstOf,
  formatCidr,
  formatIp,
  type Ip,
  ip,
  lastOf,
  parseAddressWithPrefix,
  parseCidr,
  parseIp,
  sizeOf
} from "./Ip.ts"

/** One range of a range set: addresses of `subnet` from `start` to `end`, minus the gateway. */
export interface Range {
  readonly subnet: Cidr
  readonly start: Ip
  readonly end: Ip
  readonly gateway?: Ip
}

/** Closed interval [from, to] of address values. */
export interface Interval {
  readonly from: bigint
  readonly to: bigint
}

/**
 * The addresses one range set may hand out (one address per pool per attachment).
 * `free` is what configuration allows: ranges minus reserved, gateway and excluded addresses.
 * Whether an address is taken is the routing table's business, not the pool's.
 */
export interface Pool {
  readonly family: Family
  readonly ranges: ReadonlyArray<Range>
  readonly allocatable: ReadonlyArray<Interval>
  /** Number of allocatable addresses. */
  readonly size: bigint
}

/** Configuration of one range as written by an operator (host-local's keys). */
export interface RangeInput {
  readonly subnet: string
  readonly rangeStart?: string
  readonly rangeEnd?: string
  readonly gateway?: string
}

/** Exclusions that apply to every range of a pool. */
export interface ExclusionInput {
  /** Addresses skipped at the start of each subnet (after the network address). */
  readonly excludeFirst?: number
  /** Addresses skipped at the end of each subnet (before the broadcast address). */
  readonly excludeLast?: number
  /** CIDRs or bare addresses never handed out. */
  readonly exclude?: ReadonlyArray<string>
}

/** A range set is not valid; `field` names the offending key for the operator. */
export class InvalidPool extends Schema.TaggedError<InvalidPool>()("InvalidPool", {
  field: Schema.String,
  message: Schema.String
}) {}

const invalid = (field: string, message: string) => new InvalidPool({ field, message })

/**
 * Build a pool from one range set. `field` is the path of the range set in the configuration
 * (for messages such as `ipam.ranges[0][1].rangeStart: ...`).
 */
export const makePool = (
  field: string,
  rangeInputs: ReadonlyArray<RangeInput>,
  exclusions: ExclusionInput = {}
): InvalidPool | Pool => {
  if (rangeInputs.length === 0)
    return new InvalidPool({ field, message: "a range set needs at least one range" })
  const ranges: Array<Range> = []
  for (const [i, input] of rangeInputs.entries()) {
    const at = `${field}[${i}]`
    const range = makeRange(at, input, exclusions)
    if (range instanceof InvalidPool) return range
    const family = ranges[0]?.subnet.family
    if (family !== undefined && family !== range.subnet.family) {
      return new InvalidPool({
        field: `${at}.subnet`,
        message: "every range of a range set must be the same IP version"
      })
    }
    ranges.push(range)
  }
  const clash = overlappingRanges(ranges)
  if (clash !== undefined) {
    return new InvalidPool({
      field: `${field}[${clash.later}]`,
      message: `overlaps range ${clash.earlier} of the same range set`
    })
  }
  const family = ranges[0]!.subnet.family
  const parsedExclusions = excludedIntervals(exclusions.exclude ?? [])
  if (parsedExclusions instanceof InvalidPool) return parsedExclusions
  const excluded = parsedExclusions[family]
  let allocatable: Array<Interval> = []
  for (const range of ranges) {
    const within = allocatableOf(range, exclusions)
    allocatable.push(...within)
  }
  allocatable = subtract(normalize(allocatable), excluded)
  const size = allocatable.reduce((n, iv) => n + iv.to - iv.from + 1n, 0n)
  return { family, ranges, allocatable, size }
}

const hostCidr = (address: Ip): Cidr => ({
  family: address.family,
  network: address.value,
  length: address.family === 4 ? 32 : 128
})

/**
 * Two ranges of one set that share an address, found by sorting on the start (n log n: a range
 * set may hold thousands of ranges). `later` is the higher index of the pair.
 */
const overlappingRanges = (
  ranges: ReadonlyArray<Range>
): { readonly later: number; readonly earlier: number } | undefined => {
  const order = ranges
    .map((_, i) => i)
    .sort((a, b) => compareBig(ranges[a]!.start.value, ranges[b]!.start.value))
  let reach: number | undefined // the range with the highest end among those already passed
  for (const i of order) {
    if (reach !== undefined && ranges[i]!.start.value <= ranges[reach]!.end.value) {
      return { later: Math.max(i, reach), earlier: Math.min(i, reach) }
    }
    if (reach === undefined || ranges[i]!.end.value > ranges[reach]!.end.value) reach = i
  }
  return undefined
}

const compareBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)

type ExcludedByFamily = Readonly<Record<Family, ReadonlyArray<Interval>>>

/** Parsed `exclude` lists by identity: every pool of a network shares one list, parsed once. */
const parsedExcludes = new WeakMap<ReadonlyArray<string>, ExcludedByFamily | InvalidPool>()

/** The `exclude` entries as intervals per IP version (CIDRs or bare addresses). */
const excludedIntervals = (exclude: ReadonlyArray<string>): ExcludedByFamily | InvalidPool => {
  const cached = parsedExcludes.get(exclude)
  if (cached !== undefined) return cached
  const out: { 4: Array<Interval>; 6: Array<Interval> } = { 4: [], 6: [] }
  let result: ExcludedByFamily | InvalidPool = out
  for (const [i, text] of exclude.entries()) {
    const cidr = text.includes("/") ? parseCidr(text) : Option.map(parseIp(text), (a) => hostCidr(a))
    if (Option.isNone(cidr)) {
      result = new InvalidPool({
        field: `exclude[${i}]`,
        message: `not a CIDR or address: ${JSON.stringify(text)}`
      })
      break
    }
    out[cidr.value.family].push({ from: firstOf(cidr.value).value, to: lastOf(cidr.value).value })
  }
  if (!(result instanceof InvalidPool)) result = { 4: normalize(out[4]), 6: normalize(out[6]) }
  parsedExcludes.set(exclude, result)
  return result
}

const makeRange = (at: string, input: RangeInput, exclusions: ExclusionInput): InvalidPool | Range => {
  const subnet = parseAddressWithPrefix(input.subnet)
  if (Option.isNone(subnet))
    return new InvalidPool({ field: `${at}.subnet`, message: `not a CIDR: ${JSON.stringify(input.subnet)}` })
  const cidr = subnet.value.cidr
  if (subnet.value.address.value !== cidr.network) {
    // host-local refuses these too: "100.64.1.0/16" is a typo for 100.64.0.0/16 or for a /24
    return invalid(
      `${at}.subnet`,
      `${input.subnet} has host bits set; for a /${cidr.length} the network address is ${formatCidr(cidr)}`
    )
  }
  const [lowest, highest] = usableBounds(cidr)
  const bound = (key: "rangeStart" | "rangeEnd" | "gateway", fallback: Ip | undefined) => {
    const text = input[key]
    if (text === undefined) return fallback
    const parsed = parseIp(text)
    if (Option.isNone(parsed)) return invalid(`${at}.${key}`, `not an IP address: ${JSON.stringify(text)}`)
    if (parsed.value.family !== cidr.family)
      return invalid(`${at}.${key}`, `${text} is not the IP version of subnet ${input.subnet}`)
    if (parsed.value.value < cidr.network || parsed.value.value > lastOf(cidr).value) {
      return invalid(`${at}.${key}`, `${text} is outside subnet ${formatCidr(cidr)}`)
    }
    return parsed.value
  }
  const start = bound("rangeStart", ip(cidr.family, lowest))
  if (start instanceof InvalidPool) return start
  const end = bound("rangeEnd", ip(cidr.family, highest))
  if (end instanceof InvalidPool) return end
  const gateway = bound("gateway", undefined)
  if (gateway instanceof InvalidPool) return gateway
  if (start!.value > end!.value) {
    return invalid(`${at}.rangeEnd`, `rangeEnd ${formatIp(end!)} is before rangeStart ${formatIp(start!)}`)
  }
  const first = exclusions.excludeFirst ?? 0
  const last = exclusions.excludeLast ?? 0
  if (!Number.isSafeInteger(first) || first < 0)
    return new InvalidPool({ field: "excludeFirst", message: "must be a whole number >= 0" })
  if (!Number.isSafeInteger(last) || last < 0)
    return new InvalidPool({ field: "excludeLast", message: "must be a whole number >= 0" })
  return gateway === undefined
    ? { subnet: cidr, start: start!, end: end! }
    : { subnet: cidr, start: start!, end: end!, gateway }
}

/** Lowest and highest address of a subnet that may ever be a host (network/broadcast, IPv6 anycast excluded). */
const usableBounds = (cidr: Cidr): readonly [bigint, bigint] => {
  const first = firstOf(cidr).value
  const last = lastOf(cidr).value
  if (cidr.family === 4) return cidr.length >= 31 ? [first, last] : [first + 1n, last - 1n]
  // IPv6: the all-zero host is the subnet-router anycast address; a /128 is a single host.
  return cidr.length >= 127 ? [first, last] : [first + 1n, last]
}

const allocatableOf = (range: Range, exclusions: ExclusionInput): Array<Interval> => {
  const [lowest, highest] = usableBounds(range.subnet)
  const from = maxBig(range.start.value, lowest + BigInt(exclusions.excludeFirst ?? 0))
  const to = minBig(range.end.value, highest - BigInt(exclusions.excludeLast ?? 0))
  if (from > to) return []
  const whole = [{ from, to }]
  return range.gateway === undefined
    ? whole
    : subtract(whole, [{ from: range.gateway.value, to: range.gateway.value }])
}

const maxBig = (a: bigint, b: bigint) => (a > b ? a : b)
const minBig = (a: bigint, b: bigint) => (a < b ? a : b)

/** Sort and merge overlapping or adjacent intervals. */
export const normalize = (intervals: ReadonlyArray<Interval>): Array<Interval> => {
  const sorted = [...intervals].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0))
  const out: Array<Interval> = []
  for (const iv of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && iv.from <= last.to + 1n) {
      if (iv.to > last.to) out[out.length - 1] = { from: last.from, to: iv.to }
    } else out.push(iv)
  }
  return out
}

/** Index of the first interval of normalized `b`, at or after `start`, that ends at or after `value` (binary search). */
const firstEndingAtOrAfter = (b: ReadonlyArray<Interval>, value: bigint, start: number): number => {
  let lo = start
  let hi = b.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (b[mid]!.to < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Normalized `a` minus normalized `b`. */
export const subtract = (a: ReadonlyArray<Interval>, b: ReadonlyArray<Interval>): Array<Interval> => {
  const out: Array<Interval> = []
  let j = 0
  for (const iv of a) {
    let from = iv.from
    j = firstEndingAtOrAfter(b, from, j)
    let k = j
    while (from <= iv.to) {
      const cut = b[k]
      if (cut === undefined || cut.from > iv.to) {
        out.push({ from, to: iv.to })
        break
      }
      if (cut.from > from) out.push({ from, to: cut.from - 1n })
      from = cut.to + 1n
      k++
    }
  }
  return out
}

/** Whether configuration lets the pool hand out this address. */
export const isAllocatable = (pool: Pool, address: Ip): boolean =>
  address.family === pool.family && findInterval(pool.allocatable, address.value) >= 0

/** Whether normalized `intervals` contain `value` (binary search). */
export const intervalsContain = (intervals: ReadonlyArray<Interval>, value: bigint): boolean =>
  findInterval(intervals, value) >= 0

const findInterval = (intervals: ReadonlyArray<Interval>, value: bigint): number => {
  let lo = 0
  let hi = intervals.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const iv = intervals[mid]!
    if (value < iv.from) hi = mid - 1
    else if (value > iv.to) lo = mid + 1
    else return mid
  }
  return -1
}

/** The `index`-th allocatable address (0 <= index < pool.size), in address order. */
export const nthAllocatable = (pool: Pool, index: bigint): Ip => {
  let rest = index
  for (const iv of pool.allocatable) {
    const count = iv.to - iv.from + 1n
    if (rest < count) return ip(pool.family, iv.from + rest)
    rest -= count
  }
  throw new RangeError(`index ${index} outside pool of ${pool.size}`)
}

/**
 * Allocatable addresses not in `taken`, as intervals: what is really free given one full read
 * of the table. `taken` need not be sorted or inside the pool.
 */
export const freeIntervals = (pool: Pool, taken: ReadonlyArray<Ip>): Array<Interval> =>
  subtract(
    pool.allocatable,
    normalize(taken.filter((t) => t.family === pool.family).map((t) => ({ from: t.value, to: t.value })))
  )

/** Number of addresses in normalized intervals. */
export const countOf = (intervals: ReadonlyArray<Interval>): bigint =>
  intervals.reduce((n, iv) => n + iv.to - iv.from + 1n, 0n)

/** The `index`-th address of normalized intervals. */
export const nthOf = (family: Family, intervals: ReadonlyArray<Interval>, index: bigint): Ip =>
  nthAllocatable({ family, ranges: [], allocatable: intervals, size: countOf(intervals) }, index)

/** The range of the pool an address belongs to (for its prefix length and gateway). */
export const rangeOf = (pool: Pool, address: Ip): Range | undefined =>
  pool.ranges.find(
    (r) =>
      address.family === r.subnet.family && address.value >= r.start.value && address.value <= r.end.value
  )

/**
 * The addresses inside any subnet of `pools`, per IP version, as normalized intervals: one
 * binary search per address instead of one comparison per subnet (DEL and CHECK test every
 * address of prevResult against networks of thousands of range sets).
 */
export const coveredBySubnets = (
  pools: ReadonlyArray<Pool>
): Readonly<Record<Family, ReadonlyArray<Interval>>> => {
  const out: { 4: Array<Interval>; 6: Array<Interval> } = { 4: [], 6: [] }
  for (const pool of pools) {
    for (const range of pool.ranges) {
      out[range.subnet.family].push({ from: firstOf(range.subnet).value, to: lastOf(range.subnet).value })
    }
  }
  return { 4: normalize(out[4]), 6: normalize(out[6]) }
}

/** Subnets covered by the pool's ranges, without duplicates. */
export const subnetsOf = (pool: Pool): ReadonlyArray<Cidr> => {
  const seen = new Map<string, Cidr>()
  for (const r of pool.ranges) seen.set(formatCidr(r.subnet), r.subnet)
  return [...seen.values()]
}

/** Describe a pool for messages: "100.64.0.0/24 (253 addresses)". */
export const describePool = (pool: Pool): string =>
  `${pool.ranges.map((r) => `${formatIp(r.start)}-${formatIp(r.end)}`).join(", ")} (${pool.size} allocatable)`

/** Total addresses of the subnets (for reports). */
export const subnetSize = (pool: Pool): bigint => subnetsOf(pool).reduce((n, c) => n + sizeOf(c), 0n)
