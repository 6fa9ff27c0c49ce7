// Tests of pools from config: the original plugin's exclusion counts, the subnet shorthand, overlaps.
import { assert, describe, it } from "@effect/vitest"
import { CniError } from "../../../src/adapters/cni/CniError.ts"
import { originalExclusions, poolsOf, rangeSources } from "../../../src/adapters/cni/NetworkPools.ts"
import * as Option from "effect/Option"
import fc from "fast-check"
import { formatIp, ip, maskOf, overlaps, parseCidr } from "../../../src/domain/Ip.ts"
import { InvalidPool, makePool, type Pool } from "../../../src/domain/Pool.ts"

const addressesOf = (pool: Pool): Array<string> =>
  pool.allocatable.flatMap((iv) => {
    const out: Array<string> = []
    for (let v = iv.from; v <= iv.to; v++) out.push(formatIp(ip(pool.family, v)))
    return out
  })

const original = (excludeFirst: number, excludeLast: number): Array<string> => {
  const pool = makePool(
    "p",
    [{ subnet: "100.64.0.0/29" }],
    originalExclusions(excludeFirst, excludeLast, undefined)
  )
  if (pool instanceof InvalidPool) throw new Error(pool.message)
  return addressesOf(pool)
}

const parse = (text: string) => Option.getOrThrow(parseCidr(text))

describe("NetworkPools", () => {
  it("originalExclusions - EXCLUDE_FIRST counts the network address, EXCLUDE_LAST the ones before the broadcast", () => {
    // the original picks from [network + EXCLUDE_FIRST, broadcast - EXCLUDE_LAST) and never the network address
    assert.deepStrictEqual(original(0, 0), [
      "100.64.0.1",
      "100.64.0.2",
      "100.64.0.3",
      "100.64.0.4",
      "100.64.0.5",
      "100.64.0.6"
    ])
    assert.deepStrictEqual(original(1, 0), original(0, 0))
    assert.deepStrictEqual(original(2, 0), [
      "100.64.0.2",
      "100.64.0.3",
      "100.64.0.4",
      "100.64.0.5",
      "100.64.0.6"
    ])
    assert.deepStrictEqual(original(0, 1), [
      "100.64.0.1",
      "100.64.0.2",
      "100.64.0.3",
      "100.64.0.4",
      "100.64.0.5"
    ])
    assert.deepStrictEqual(original(2, 2), ["100.64.0.2", "100.64.0.3", "100.64.0.4"])
  })

  it("rangeSources - runtimeConfig.ipRanges wins; the subnet shorthand comes before ranges", () => {
    assert.isUndefined(rangeSources({}, undefined))
    assert.isUndefined(rangeSources(undefined, []))
    const both = rangeSources(
      { subnet: "100.64.1.0/24", gateway: "100.64.1.1", ranges: [[{ subnet: "fd00::/64" }]] },
      undefined
    )
    assert.deepStrictEqual(both, [
      { field: "ipam", sets: [[{ subnet: "100.64.1.0/24", gateway: "100.64.1.1" }]] },
      { field: "ipam.ranges[0]", sets: [[{ subnet: "fd00::/64" }]] }
    ])
    assert.deepStrictEqual(rangeSources({ subnet: "100.64.1.0/24" }, [[{ subnet: "100.64.2.0/24" }]]), [
      { field: "runtimeConfig.ipRanges[0]", sets: [[{ subnet: "100.64.2.0/24" }]] }
    ])
  })

  it("poolsOf - messages name the field of the shorthand, of ranges and of exclusions", () => {
    const problem = (sources: ReturnType<typeof rangeSources>, exclude?: ReadonlyArray<string>) => {
      const pools = poolsOf(sources!, exclude === undefined ? {} : { exclude }, {})
      assert.instanceOf(pools, CniError)
      assert.strictEqual((pools as CniError).code, 7)
      return (pools as CniError).msg
    }
    assert.strictEqual(
      problem(rangeSources({ subnet: "100.64.1.0/24", rangeStart: "100.64.2.1" }, undefined)),
      "ipam.rangeStart: 100.64.2.1 is outside subnet 100.64.1.0/24"
    )
    assert.include(
      problem(rangeSources({ ranges: [[{ subnet: "x" }]] }, undefined)),
      "ipam.ranges[0][0].subnet"
    )
    assert.include(
      problem(rangeSources({ ranges: [[{ subnet: "100.64.0.0/24" }]] }, undefined), ["bad"]),
      "ipam.exclude[0]"
    )
    assert.strictEqual(
      problem(
        rangeSources({ ranges: [[{ subnet: "100.64.0.0/16" }], [{ subnet: "100.64.7.0/24" }]] }, undefined)
      ),
      "ipam.ranges[1]: subnet 100.64.7.0/24 overlaps ipam.ranges[0]"
    )
    const excludeFirst = poolsOf(
      rangeSources({ subnet: "100.64.0.0/24" }, undefined)!,
      {},
      { excludeFirst: -2 }
    )
    assert.include((excludeFirst as CniError).msg, "ipam.excludeFirst")
  })

  it("poolsOf - the overlap named is the first in config order: lowest later set, then lowest earlier set", () => {
    const overlap = (...subnets: ReadonlyArray<string | ReadonlyArray<string>>) => {
      const ranges = subnets.map((s) => (typeof s === "string" ? [s] : s).map((subnet) => ({ subnet })))
      const pools = poolsOf(rangeSources({ ranges }, undefined)!, {}, {})
      return pools instanceof CniError ? pools.msg : undefined
    }
    // the reference: compare every pair, in order (what the sort-based check replaced)
    assert.isUndefined(overlap("100.64.0.0/24", "100.64.1.0/24", "fd00::/120", "100.65.0.0/16"))
    assert.isUndefined(overlap("100.64.0.0/24", "::6440:0/120"), "v4 and v6 values never clash")
    assert.strictEqual(
      overlap("100.64.0.0/24", "100.64.2.0/24", "100.64.2.128/25", "100.64.0.0/16"),
      "ipam.ranges[2]: subnet 100.64.2.128/25 overlaps ipam.ranges[1]"
    )
    assert.strictEqual(
      overlap("100.64.2.0/24", "100.64.0.0/16", "100.64.2.0/24"),
      "ipam.ranges[1]: subnet 100.64.0.0/16 overlaps ipam.ranges[0]"
    )
    assert.strictEqual(
      overlap("100.64.9.0/24", "100.64.1.0/24", "100.64.1.0/24", "100.64.1.0/24"),
      "ipam.ranges[2]: subnet 100.64.1.0/24 overlaps ipam.ranges[1]"
    )
    assert.strictEqual(
      overlap(["fd00::100/120", "fd00::/120"], "fd00::80/121"),
      "ipam.ranges[1]: subnet fd00::80/121 overlaps ipam.ranges[0]"
    )
  })

  it("poolsOf - agrees with comparing every pair on random range sets", () => {
    const pairwise = (subnets: ReadonlyArray<string>): string | undefined => {
      const cidrs = subnets.map((s) => parse(s))
      for (let i = 0; i < cidrs.length; i++)
        for (let j = 0; j < i; j++)
          if (overlaps(cidrs[i]!, cidrs[j]!))
            return `ipam.ranges[${i}]: subnet ${subnets[i]} overlaps ipam.ranges[${j}]`
      return undefined
    }
    fc.assert(
      fc.property(
        fc.array(
          fc
            .tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 20, max: 28 }))
            .map(([block, length]) => {
              const value = (0x64400000 + block * 256) & Number(maskOf(4, length) & 0xffffffffn)
              return `100.64.${(value >> 8) & 255}.${value & 255}/${length}`
            }),
          { maxLength: 12 }
        ),
        (subnets) => {
          const ranges = subnets.map((subnet) => [{ subnet }])
          const pools = subnets.length === 0 ? [] : poolsOf(rangeSources({ ranges }, undefined)!, {}, {})
          const got = pools instanceof CniError ? pools.msg : undefined
          assert.strictEqual(
            got,
            subnets.length === 0 ? undefined : pairwise(subnets),
            JSON.stringify(subnets)
          )
        }
      ),
      { seed: 20_261_129, numRuns: 500 }
    )
  })
})
