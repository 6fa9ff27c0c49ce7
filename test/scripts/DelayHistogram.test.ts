// `lab measure`'s text: every delay in exactly one bucket, the bars, and a `--delay` that `simulate`'s parser reads back.
import { assert, describe, it } from "@effect/vitest"
import { maxDelayOf, parseDelay } from "../../src/adapters/fabric/DelayDistribution.ts"
import {
  delayDistributionOf,
  delayFlagOf,
  formatHistogram,
  formatMeasurement,
  histogram
} from "../../scripts/lab/DelayHistogram.ts"

describe("DelayHistogram", () => {
  it("every delay lands in exactly one bucket: the counts sum to the samples, bounds are half-open", () => {
    const delays = [0, 0.1, 0.25, 0.3, 0.99, 1, 4.9, 5, 35, 999, 1000, 5000]
    const buckets = histogram(delays)
    assert.strictEqual(
      buckets.reduce((sum, b) => sum + b.count, 0),
      delays.length
    )
    const countIn = (fromMs: number) => buckets.find((b) => b.fromMs === fromMs)?.count
    assert.strictEqual(countIn(0), 2, "0 and 0.1 are below 0.25")
    assert.strictEqual(countIn(0.25), 2, "0.25 opens the next bucket")
    assert.strictEqual(countIn(0.5), 1)
    assert.strictEqual(countIn(1), 1)
    assert.strictEqual(countIn(2), 1)
    assert.strictEqual(countIn(5), 1)
    assert.strictEqual(countIn(20), 1)
    assert.strictEqual(countIn(500), 1)
    assert.strictEqual(countIn(1000), 2, "the last bucket is open-ended")
    assert.isUndefined(buckets.at(-1)?.toMs)
  })

  it("text: from the first to the last used bucket, bars scaled to the largest count", () => {
    assert.strictEqual(
      formatHistogram(histogram([0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 3]), 8),
      [
        "  0.25ms - 0.5ms | 2 ####",
        "     0.5ms - 1ms | 4 ########",
        "       1ms - 2ms | 0",
        "       2ms - 5ms | 1 ##"
      ].join("\n")
    )
    assert.strictEqual(formatHistogram(histogram([])), "  (no samples)")
  })

  it("--delay: longtail with the single claims' median, capped at the worst delay of any round; simulate's parser reads it", () => {
    const delay = delayDistributionOf([0.6, 0.65, 0.7, 1.2, 0.5], [0.6, 0.65, 0.7, 1.2, 0.5, 12.341])
    assert.deepStrictEqual(delay, { _tag: "LongTail", median: 0.65, cap: 12.35 })
    const flag = delayFlagOf(delay!)
    assert.strictEqual(flag, "longtail:0.65ms:12.35ms")
    const parsed = parseDelay(flag)
    assert.deepStrictEqual(parsed, delay, "the printed string reads back as the same distribution")
    assert.isAtLeast(maxDelayOf(delay!), 12.341, "D covers every measured delay")
    assert.isUndefined(delayDistributionOf([], [1]))
    assert.deepStrictEqual(delayDistributionOf([0.001], [0.001]), {
      _tag: "LongTail",
      median: 0.01,
      cap: 0.01
    })
  })

  it("the measurement text names the rounds and ends with the simulate command line", () => {
    const stats = { samples: 4, missing: 0, medianMs: 0.6, p95Ms: 0.9, maxMs: 0.9 }
    const text = formatMeasurement({
      report: { nodes: 3, family: 4, routes: 2, sequential: stats, burst: stats },
      delaysMs: { sequential: [0.4, 0.6, 0.7, 0.9], burst: [0.4, 0.6, 0.7, 0.9] }
    })
    assert.include(text, "2 routes from one node, seen by 2 other nodes (4 samples per round)")
    assert.match(text, /\n {2}routetable-ipam simulate --nodes 3 --delay longtail:0\.7ms:0\.9ms$/)
  })
})
