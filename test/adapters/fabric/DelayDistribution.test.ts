// Tests of delay distributions: parsing, the longest delay D, sampling, and the seeded hash behind per-message delays.
import { assert, describe, it } from "@effect/vitest"
import {
  formatDelay,
  InvalidDelay,
  maxDelayOf,
  parseDelay,
  parseDurationMs,
  sampleDelay
} from "../../../src/adapters/fabric/DelayDistribution.ts"
import { hash32, makeGenerator, seedOf, uniform } from "../../../src/adapters/fabric/SeededHash.ts"

describe("DelayDistribution", () => {
  it("parses fixed, uniform and long-tail delays", () => {
    assert.deepStrictEqual(parseDelay("40ms"), { _tag: "Fixed", ms: 40 })
    assert.deepStrictEqual(parseDelay("0.25s"), { _tag: "Fixed", ms: 250 })
    assert.deepStrictEqual(parseDelay("0-200ms"), { _tag: "Uniform", min: 0, max: 200 })
    assert.deepStrictEqual(parseDelay("50ms-1s"), { _tag: "Uniform", min: 50, max: 1000 })
    assert.deepStrictEqual(parseDelay("longtail:20ms"), { _tag: "LongTail", median: 20, cap: 400 })
    assert.deepStrictEqual(parseDelay("longtail:20ms:300ms"), { _tag: "LongTail", median: 20, cap: 300 })
    assert.strictEqual(parseDurationMs("1m"), 60_000)
    assert.strictEqual(parseDurationMs("250"), 250)
  })

  it("rejects what it cannot read, saying what it expected", () => {
    for (const text of ["", "fast", "200-100ms", "longtail:", "longtail:20ms:10ms", "-5ms", "1-2-3ms"]) {
      const parsed = parseDelay(text)
      assert.instanceOf(parsed, InvalidDelay, text)
      assert.match((parsed as InvalidDelay).message, /expected e\.g\. 40ms/)
    }
  })

  it("D is the longest delay a distribution can produce, and samples stay within it", () => {
    const distributions = ["40ms", "10-200ms", "longtail:20ms:300ms"].map((t) => parseDelay(t))
    const random = makeGenerator(5)
    for (const d of distributions) {
      if (d instanceof InvalidDelay) throw d
      const max = maxDelayOf(d)
      for (let i = 0; i < 10_000; i++) {
        const v = sampleDelay(d, 1 - random.next(), random.next())
        assert.isTrue(v >= 0 && v <= max, `${formatDelay(d)} gave ${v}`)
      }
      assert.deepStrictEqual(parseDelay(formatDelay(d)), d)
    }
    assert.deepStrictEqual(
      [40, 200, 300],
      distributions.map((d) => maxDelayOf(d as Exclude<typeof d, InvalidDelay>))
    )
  })

  it("the long tail has the stated median and a tail beyond it", () => {
    const d = { _tag: "LongTail", median: 20, cap: 400 } as const
    const samples = Array.from({ length: 20_001 }, (_, i) =>
      sampleDelay(d, uniform(1, i, 0, 1), uniform(1, i, 0, 2))
    )
    samples.sort((a, b) => a - b)
    const median = samples[10_000]!
    assert.isTrue(median > 18 && median < 22, `median ${median}`)
    const p99 = samples[19_800]!
    assert.isTrue(p99 > 150 && p99 < 260, `p99 ${p99}`)
  })

  it("the seeded hash is a pure function of its inputs and spreads evenly", () => {
    assert.strictEqual(hash32(1, 2, 3, 4), hash32(1, 2, 3, 4))
    assert.notStrictEqual(hash32(1, 2, 3, 4), hash32(1, 2, 3, 5))
    assert.strictEqual(seedOf("abc"), seedOf("abc"))
    assert.notStrictEqual(seedOf("abc"), seedOf("abd"))
    let sum = 0
    for (let i = 0; i < 100_000; i++) {
      const u = uniform(7, i)
      assert.isTrue(u > 0 && u < 1)
      sum += u
    }
    assert.closeTo(sum / 100_000, 0.5, 0.01)
  })
})
