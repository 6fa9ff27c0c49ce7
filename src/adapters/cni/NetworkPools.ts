// The pools of a network from the config: ranges, the subnet shorthand, runtimeConfig.ipRanges, exclusions.
import * as Option from "effect/Option"
import { type Cidr, formatCidr, lastOf, parseCidr } from "../../domain/Ip.ts"
import {
  type ExclusionInput,
  InvalidPool,
  makePool,
  type Pool,
  type RangeInput,
  subnetsOf
} from "../../domain/Pool.ts"
import { CniCode, type CniError, cniError } from "./CniError.ts"
import type { IpamConf, RangeEntry } from "./NetConf.ts"

/** An InvalidPool as the CNI error: code 7, message `field: problem`. */
export const invalidPoolError = (problem: InvalidPool): CniError =>
  cniError(CniCode.invalidConfig, `${problem.field}: ${problem.message}`)

/**
 * Exclusions in the original plugin's sense, as the domain's. The original (travishegner/routetable-ipam,
 * iputil.RandAddrWithExclude) picks from [network + EXCLUDE_FIRST, broadcast - EXCLUDE_LAST) and never
 * hands out the network address itself: EXCLUDE_FIRST counts the network address (0 and 1 both skip
 * only it), while EXCLUDE_LAST counts the addresses before the broadcast address. The domain's
 * `excludeFirst` skips addresses after the network address, `excludeLast` before the broadcast.
 */
export const originalExclusions = (
  excludeFirst: number | undefined,
  excludeLast: number | undefined,
  exclude: ReadonlyArray<string> | undefined
): ExclusionInput => ({
  ...(excludeFirst === undefined ? {} : { excludeFirst: Math.max(excludeFirst - 1, 0) }),
  ...(excludeLast === undefined ? {} : { excludeLast }),
  ...(exclude === undefined ? {} : { exclude })
})

const checkCount = (field: string, value: number | undefined): CniError | undefined =>
  value === undefined || (Number.isSafeInteger(value) && value >= 0)
    ? undefined
    : cniError(CniCode.invalidConfig, `ipam.${field}: ${value} must be a whole number >= 0`)

/** `excludeFirst` and `excludeLast` are whole numbers >= 0 (code 7), with ranges or with CNI_ARGS CIDR=. */
export const checkExclusionCounts = (ipam: IpamConf | undefined): CniError | undefined =>
  checkCount("excludeFirst", ipam?.excludeFirst) ?? checkCount("excludeLast", ipam?.excludeLast)

/** Where the range sets of a network come from, with the config path used in messages. */
export interface RangeSource {
  readonly field: string
  readonly sets: ReadonlyArray<ReadonlyArray<RangeEntry>>
}

/**
 * The range sets `ipam` defines: runtimeConfig.ipRanges when given (host-local's capability),
 * else the `subnet` shorthand (as its own first set, as host-local does) followed by `ranges`.
 * Undefined when there are none (then the original plugin's CNI_ARGS interface applies).
 */
export const rangeSources = (
  ipam: IpamConf | undefined,
  ipRanges: ReadonlyArray<ReadonlyArray<RangeEntry>> | undefined
): ReadonlyArray<RangeSource> | undefined => {
  if (ipRanges !== undefined && ipRanges.length > 0) {
    return ipRanges.map((set, i) => ({ field: `runtimeConfig.ipRanges[${i}]`, sets: [set] }))
  }
  const sources: Array<RangeSource> = []
  if (ipam?.subnet !== undefined) {
    const shorthand: RangeEntry = {
      subnet: ipam.subnet,
      ...(ipam.rangeStart === undefined ? {} : { rangeStart: ipam.rangeStart }),
      ...(ipam.rangeEnd === undefined ? {} : { rangeEnd: ipam.rangeEnd }),
      ...(ipam.gateway === undefined ? {} : { gateway: ipam.gateway })
    }
    sources.push({ field: "ipam", sets: [[shorthand]] })
  }
  for (const [i, set] of (ipam?.ranges ?? []).entries())
    sources.push({ field: `ipam.ranges[${i}]`, sets: [set] })
  return sources.length === 0 ? undefined : sources
}

/** Field names of exclusion problems are relative to `ipam`; the shorthand's "ipam[0].x" reads "ipam.x". */
const fieldOf = (source: RangeSource, problem: InvalidPool): string => {
  if (problem.field.startsWith("exclude")) return `ipam.${problem.field}`
  if (source.field === "ipam") return problem.field.replace(/^ipam\[0\]/, "ipam")
  return problem.field
}

/** Build and check one pool per range set (code 7 naming the field); range sets must not overlap. */
export const poolsOf = (
  sources: ReadonlyArray<RangeSource>,
  exclusions: ExclusionInput,
  ipam: IpamConf | undefined
): ReadonlyArray<Pool> | CniError => {
  const badCount = checkExclusionCounts(ipam)
  if (badCount !== undefined) return badCount
  const pools: Array<Pool> = []
  for (const source of sources) {
    const ranges: ReadonlyArray<RangeInput> = source.sets[0] ?? []
    const pool = makePool(source.field, ranges, exclusions)
    if (pool instanceof InvalidPool) {
      return invalidPoolError(new InvalidPool({ field: fieldOf(source, pool), message: pool.message }))
    }
    pools.push(pool)
  }
  const clash = firstOverlap(pools)
  if (clash !== undefined) {
    return cniError(
      CniCode.invalidConfig,
      `${sources[clash.later]!.field}: subnet ${formatCidr(clash.subnet)} overlaps ${sources[clash.earlier]!.field}`
    )
  }
  return pools
}

/** Two range sets that share a subnet: `subnet` (of the later set) overlaps one of the earlier set's. */
interface Overlap {
  readonly later: number
  readonly earlier: number
  readonly subnet: Cidr
}

/** Subnets that are one CIDR, with the two lowest range sets naming it (enough to find the first clash). */
interface SubnetGroup {
  readonly cidr: Cidr
  readonly last: bigint
  /** Range set indexes naming this subnet, ascending, at most two kept. */
  readonly sets: Array<number>
}

const lowerPair = (a: Overlap | undefined, b: Overlap): Overlap =>
  a === undefined || b.later < a.later || (b.later === a.later && b.earlier < a.earlier) ? b : a

/**
 * The clash the operator sees first: the lowest later range set, then the lowest earlier one.
 * Two CIDRs overlap only when one contains the other, so after sorting by (family, first address,
 * widest first) every subnet's overlaps are the chain of subnets still open above it (at most one
 * per prefix length): n log n plus n times 129, where comparing every pair took seconds for a few
 * thousand range sets.
 */
const firstOverlap = (pools: ReadonlyArray<Pool>): Overlap | undefined => {
  const groups = new Map<string, SubnetGroup>()
  for (const [set, pool] of pools.entries()) {
    for (const cidr of subnetsOf(pool)) {
      const key = `${cidr.family}/${cidr.network}/${cidr.length}`
      const group = groups.get(key)
      if (group === undefined) groups.set(key, { cidr, last: lastOf(cidr).value, sets: [set] })
      else if (group.sets.length < 2 && group.sets[0] !== set) group.sets.push(set)
    }
  }
  const sorted = [...groups.values()].sort(
    (a, b) =>
      a.cidr.family - b.cidr.family ||
      (a.cidr.network < b.cidr.network ? -1 : a.cidr.network > b.cidr.network ? 1 : 0) ||
      a.cidr.length - b.cidr.length
  )
  let best: Overlap | undefined
  const open: Array<SubnetGroup> = []
  for (const group of sorted) {
    while (open.length > 0) {
      const top = open[open.length - 1]!
      if (top.cidr.family === group.cidr.family && top.last >= group.cidr.network) break
      open.pop()
    }
    const [first, second] = group.sets
    if (second !== undefined) best = lowerPair(best, { later: second, earlier: first!, subnet: group.cidr })
    for (const outer of open) {
      // `outer` contains `group`: pair the group's lowest set with the lowest other set of `outer`
      for (const set of group.sets) {
        const other = outer.sets[0] !== set ? outer.sets[0] : outer.sets[1]
        if (other === undefined) continue
        best = lowerPair(
          best,
          set > other
            ? { later: set, earlier: other, subnet: group.cidr }
            : { later: other, earlier: set, subnet: outer.cidr }
        )
      }
    }
    open.push(group)
  }
  return best
}

/** Whether text is a CIDR (for route destinations). */
export const isCidr = (text: string): boolean => Option.isSome(parseCidr(text))
