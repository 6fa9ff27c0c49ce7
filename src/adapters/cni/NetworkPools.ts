// The pools of a network from the config: ranges, the subnet shorthand, runtimeConfig.ipRanges, exclusions.
import * as Option from "effect/Option"
import { formatCidr, overlaps, parseCidr } from "../../domain/Ip.ts"
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
  const badCount =
    checkCount("excludeFirst", ipam?.excludeFirst) ?? checkCount("excludeLast", ipam?.excludeLast)
  if (badCount !== undefined) return badCount
  const pools: Array<Pool> = []
  for (const source of sources) {
    const ranges: ReadonlyArray<RangeInput> = source.sets[0] ?? []
    const pool = makePool(source.field, ranges, exclusions)
    if (pool instanceof InvalidPool) {
      return invalidPoolError(new InvalidPool({ field: fieldOf(source, pool), message: pool.message }))
    }
    for (const [j, earlier] of pools.entries()) {
      const clash = subnetsOf(pool).find((a) => subnetsOf(earlier).some((b) => overlaps(a, b)))
      if (clash !== undefined) {
        return cniError(
          CniCode.invalidConfig,
          `${source.field}: subnet ${formatCidr(clash)} overlaps ${sources[j]!.field}`
        )
      }
    }
    pools.push(pool)
  }
  return pools
}

/** Whether text is a CIDR (for route destinations). */
export const isCidr = (text: string): boolean => Option.isSome(parseCidr(text))
