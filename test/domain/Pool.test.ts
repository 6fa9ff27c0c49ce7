// Pools: configuration errors name their field; a pool never yields an excluded, reserved or out-of-range address.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { formatIp, type Ip, ip, lastOf, parseCidr, parseIp } from "../../src/domain/Ip.ts"
import { InvalidPool, isAllocatable, makePool, nthAllocatable, type Pool } from "../../src/domain/Pool.ts"

const must = (p: InvalidPool | Pool): Pool => {
  if (p instanceof InvalidPool) throw new Error(`${p.field}: ${p.message}`)
  return p
}
const addr = (s: string): Ip => {
  const parsed = parseIp(s)
  if (parsed._tag === "None") throw new Error(s)
  return parsed.value
}
const all = (pool: Pool): Array<string> => {
  const out: Array<string> = []
  for (let i = 0n; i < pool.size; i++) out.push(formatIp(nthAllocatable(pool, i)))
  return out
}

describe("Pool", () => {
  describe("makePool", () => {
    it("a subnet with host bits set is refused, naming the network address (as host-local)", () => {
      for (const [subnet, network] of [
        ["100.64.1.0/16", "100.64.0.0/16"],
        ["100.64.0.9/24", "100.64.0.0/24"],
        ["fd00:64::1/64", "fd00:64::/64"]
      ] as const) {
        const problem = makePool("ranges[0]", [{ subnet }])
        assert.instanceOf(problem, InvalidPool, subnet)
        assert.strictEqual((problem as InvalidPool).field, "ranges[0][0].subnet")
        assert.include((problem as InvalidPool).message, `host bits set; for a /`)
        assert.include((problem as InvalidPool).message, network)
      }
      must(makePool("ranges[0]", [{ subnet: "100.64.0.0/16" }, { subnet: "100.65.0.7/32" }]))
    })

    it("ranges of one set that share an address are refused; sorted check agrees with every pair", () => {
      fc.assert(
        fc.property(
          fc.array(
            fc
              .tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 20 }))
              .map(([start, span]) => ({
                subnet: "100.64.0.0/24",
                rangeStart: `100.64.0.${start}`,
                rangeEnd: `100.64.0.${Math.min(start + span, 254)}`
              })),
            { minLength: 1, maxLength: 10 }
          ),
          (ranges) => {
            const bounds = ranges.map((r) => [
              Number(r.rangeStart.split(".")[3]),
              Number(r.rangeEnd.split(".")[3])
            ])
            let pair: [number, number] | undefined
            for (let i = 0; i < bounds.length && pair === undefined; i++)
              for (let j = 0; j < i && pair === undefined; j++)
                if (bounds[i]![0]! <= bounds[j]![1]! && bounds[j]![0]! <= bounds[i]![1]!) pair = [i, j]
            const pool = makePool("r", ranges)
            assert.strictEqual(pool instanceof InvalidPool, pair !== undefined, JSON.stringify(ranges))
            if (pool instanceof InvalidPool)
              assert.match(pool.message, /^overlaps range \d+ of the same range set$/)
          }
        ),
        { seed: 20261129, numRuns: 300 }
      )
    })

    it("IPv4 /29: network, broadcast and gateway are never handed out", () => {
      const pool = must(makePool("ranges[0]", [{ subnet: "100.64.0.0/29", gateway: "100.64.0.1" }]))
      assert.deepStrictEqual(all(pool), [
        "100.64.0.2",
        "100.64.0.3",
        "100.64.0.4",
        "100.64.0.5",
        "100.64.0.6"
      ])
    })
    it("IPv4 /31 and /32 hand out every address", () => {
      assert.deepStrictEqual(all(must(makePool("r", [{ subnet: "100.64.0.0/31" }]))), [
        "100.64.0.0",
        "100.64.0.1"
      ])
      assert.deepStrictEqual(all(must(makePool("r", [{ subnet: "100.64.0.9/32" }]))), ["100.64.0.9"])
    })
    it("IPv6: the all-zero host is never handed out", () => {
      const pool = must(makePool("r", [{ subnet: "fd00::/126" }]))
      assert.deepStrictEqual(all(pool), ["fd00::1", "fd00::2", "fd00::3"])
    })
    it("rangeStart/rangeEnd, excludeFirst/excludeLast and exclude narrow the pool", () => {
      const pool = must(
        makePool("r", [{ subnet: "100.64.0.0/24", rangeStart: "100.64.0.10", rangeEnd: "100.64.0.20" }], {
          exclude: ["100.64.0.12/31", "100.64.0.15"]
        })
      )
      assert.deepStrictEqual(all(pool), [
        "100.64.0.10",
        "100.64.0.11",
        "100.64.0.14",
        "100.64.0.16",
        "100.64.0.17",
        "100.64.0.18",
        "100.64.0.19",
        "100.64.0.20"
      ])
      const counted = must(makePool("r", [{ subnet: "100.64.0.0/28" }], { excludeFirst: 3, excludeLast: 2 }))
      assert.deepStrictEqual(all(counted), [
        "100.64.0.4",
        "100.64.0.5",
        "100.64.0.6",
        "100.64.0.7",
        "100.64.0.8",
        "100.64.0.9",
        "100.64.0.10",
        "100.64.0.11",
        "100.64.0.12"
      ])
    })
    it("several ranges in one set are joined", () => {
      const pool = must(makePool("r", [{ subnet: "100.64.0.0/30" }, { subnet: "100.64.1.0/30" }]))
      assert.deepStrictEqual(all(pool), ["100.64.0.1", "100.64.0.2", "100.64.1.1", "100.64.1.2"])
    })
    it("errors name the offending field", () => {
      const cases: Array<[Parameters<typeof makePool>[1], string, RegExp]> = [
        [[{ subnet: "100.64.0.0/33" }], "ranges[0][0].subnet", /not a CIDR/],
        [[{ subnet: "nonsense" }], "ranges[0][0].subnet", /not a CIDR/],
        [
          [{ subnet: "100.64.0.0/24", rangeStart: "100.65.0.1" }],
          "ranges[0][0].rangeStart",
          /outside subnet/
        ],
        [[{ subnet: "100.64.0.0/24", rangeEnd: "fd00::1" }], "ranges[0][0].rangeEnd", /IP version/],
        [[{ subnet: "100.64.0.0/24", gateway: "x" }], "ranges[0][0].gateway", /not an IP address/],
        [
          [{ subnet: "100.64.0.0/24", rangeStart: "100.64.0.9", rangeEnd: "100.64.0.3" }],
          "ranges[0][0].rangeEnd",
          /before rangeStart/
        ],
        [[{ subnet: "100.64.0.0/24" }, { subnet: "fd00::/64" }], "ranges[0][1].subnet", /same IP version/],
        [[{ subnet: "100.64.0.0/24" }, { subnet: "100.64.0.128/25" }], "ranges[0][1]", /overlaps/],
        [[], "ranges[0]", /at least one range/]
      ]
      for (const [ranges, field, message] of cases) {
        const result = makePool("ranges[0]", ranges)
        assert.instanceOf(result, InvalidPool, JSON.stringify(ranges))
        assert.strictEqual((result as InvalidPool).field, field)
        assert.match((result as InvalidPool).message, message)
      }
      const bad = makePool("r", [{ subnet: "100.64.0.0/24" }], { exclude: ["100.64.0.0/40"] })
      assert.strictEqual((bad as InvalidPool).field, "exclude[0]")
      assert.strictEqual(
        (makePool("r", [{ subnet: "100.64.0.0/24" }], { excludeFirst: -1 }) as InvalidPool).field,
        "excludeFirst"
      )
    })
  })

  describe("properties", () => {
    // arbitrary small pools: a subnet, optional start/end/gateway inside it, exclusions
    const poolInput = fc
      .record({
        v6: fc.boolean(),
        length: fc.integer({ min: 0, max: 8 }),
        base: fc.integer({ min: 0, max: 255 }),
        start: fc.option(fc.nat(), { nil: undefined }),
        end: fc.option(fc.nat(), { nil: undefined }),
        gateway: fc.option(fc.nat(), { nil: undefined }),
        excludeFirst: fc.integer({ min: 0, max: 4 }),
        excludeLast: fc.integer({ min: 0, max: 4 }),
        exclude: fc.array(fc.record({ offset: fc.nat(), length: fc.integer({ min: 0, max: 3 }) }), {
          maxLength: 3
        })
      })
      .map((g) => {
        const bits = g.v6 ? 128 : 32
        const prefix = bits - g.length
        const subnetText = g.v6
          ? `fd00:0:0:${g.base.toString(16)}::/${prefix}`
          : `100.64.${g.base}.0/${prefix}`
        const subnet = parseCidr(subnetText, { strict: false })
        if (subnet._tag === "None") throw new Error(subnetText)
        const size = 1n << BigInt(g.length)
        const at = (n: number) => formatIp(ip(subnet.value.family, subnet.value.network + (BigInt(n) % size)))
        const s = g.start === undefined ? undefined : at(g.start)
        const e = g.end === undefined ? undefined : at(g.end)
        const [rangeStart, rangeEnd] =
          s !== undefined && e !== undefined && addr(s).value > addr(e).value ? [e, s] : [s, e]
        return {
          range: {
            subnet: subnetText,
            ...(rangeStart === undefined ? {} : { rangeStart }),
            ...(rangeEnd === undefined ? {} : { rangeEnd }),
            ...(g.gateway === undefined ? {} : { gateway: at(g.gateway) })
          },
          exclusions: {
            excludeFirst: g.excludeFirst,
            excludeLast: g.excludeLast,
            exclude: g.exclude.map((x) => `${at(x.offset)}/${bits - x.length}`)
          },
          subnet: subnet.value
        }
      })

    it("a pool never yields an excluded, reserved or out-of-range address, and yields every other one", () => {
      fc.assert(
        fc.property(poolInput, ({ range, exclusions, subnet }) => {
          const made = makePool("r", [range], exclusions)
          const first = subnet.network
          const last = lastOf(subnet).value
          const expected: Array<string> = []
          for (let v = first; v <= last; v++) {
            const a = ip(subnet.family, v)
            const text = formatIp(a)
            const reserved =
              subnet.family === 4
                ? subnet.length < 31 && (v === first || v === last)
                : subnet.length < 127 && v === first
            const lowest =
              subnet.family === 4
                ? subnet.length < 31
                  ? first + 1n
                  : first
                : subnet.length < 127
                  ? first + 1n
                  : first
            const highest = subnet.family === 4 && subnet.length < 31 ? last - 1n : last
            const inRange =
              (range.rangeStart === undefined || v >= addr(range.rangeStart).value) &&
              (range.rangeEnd === undefined || v <= addr(range.rangeEnd).value)
            const counted =
              v >= lowest + BigInt(exclusions.excludeFirst) && v <= highest - BigInt(exclusions.excludeLast)
            const excluded = exclusions.exclude.some((c) => {
              const cidr = parseCidr(c)
              return (
                cidr._tag === "Some" &&
                (v & ~((1n << BigInt((subnet.family === 4 ? 32 : 128) - cidr.value.length)) - 1n)) ===
                  cidr.value.network
              )
            })
            const gateway = range.gateway === text
            const ok = !reserved && inRange && counted && !excluded && !gateway
            if (!(made instanceof InvalidPool)) assert.strictEqual(isAllocatable(made, a), ok, text)
            if (ok) expected.push(text)
          }
          if (made instanceof InvalidPool) {
            // only an explicit bound that leaves nothing between start and end is refused
            assert.match(made.field, /rangeEnd$/)
            assert.deepStrictEqual(expected, [])
            return
          }
          const pool = made
          assert.deepStrictEqual(all(pool), expected)
          assert.strictEqual(pool.size, BigInt(expected.length))
        }),
        { seed: 20261128, numRuns: 300 }
      )
    })
  })
})
