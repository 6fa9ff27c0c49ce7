// Tests of reading BIRD's printed times (named iso formats) as intervals, and dating a bare time of day.
import { assert, describe, it } from "@effect/vitest"
import { type BirdTime, parseBirdTime, placeBefore } from "../../../src/adapters/bird/BirdTime.ts"

const day = Date.UTC(2026, 10, 29)
const ms = (h: number, m: number, s: number, frac = 0) => ((h * 60 + m) * 60 + s) * 1000 + frac

describe("BirdTime", () => {
  it("parseBirdTime - every named iso format: the printed value and its resolution", () => {
    assert.deepStrictEqual(parseBirdTime("05:32:17"), {
      _tag: "Timed",
      at: ms(5, 32, 17),
      resolutionMs: 1000,
      hasDate: false
    })
    assert.deepStrictEqual(parseBirdTime("05:32:17.190"), {
      _tag: "Timed",
      at: ms(5, 32, 17, 190),
      resolutionMs: 1,
      hasDate: false
    })
    const micro = parseBirdTime("2026-11-29 05:32:17.190154")
    assert.strictEqual(micro?._tag, "Timed")
    if (micro?._tag === "Timed") {
      assert.closeTo(micro.at, day + ms(5, 32, 17, 190.154), 1e-6)
      assert.closeTo(micro.resolutionMs, 0.001, 1e-12)
      assert.isTrue(micro.hasDate)
    }
    assert.deepStrictEqual(parseBirdTime("2026-11-29 05:32:17"), {
      _tag: "Timed",
      at: day + ms(5, 32, 17),
      resolutionMs: 1000,
      hasDate: true
    })
    assert.deepStrictEqual(parseBirdTime("2026-11-29"), { _tag: "Dated", day })
  })

  it("parseBirdTime - anything else is unreadable (custom formats, garbage, impossible times)", () => {
    for (const text of [
      "",
      "1764394337",
      "29-11-2026",
      "05:32",
      "25:00:00",
      "05:61:00",
      "Nov 29 05:32:17",
      "x"
    ]) {
      assert.isUndefined(parseBirdTime(text), text)
    }
  })

  it("placeBefore - a bare time of day gets today's date, or yesterday's when it would lie ahead of now", () => {
    const now: BirdTime = { _tag: "Timed", at: day + ms(5, 0, 0), resolutionMs: 1, hasDate: true }
    const earlier = placeBefore({ _tag: "Timed", at: ms(4, 59, 0), resolutionMs: 1, hasDate: false }, now)
    assert.deepStrictEqual(earlier, { _tag: "Timed", at: day + ms(4, 59, 0), resolutionMs: 1, hasDate: true })
    const lastNight = placeBefore({ _tag: "Timed", at: ms(23, 0, 0), resolutionMs: 1, hasDate: false }, now)
    assert.strictEqual(lastNight._tag === "Timed" ? lastNight.at : 0, day - 86_400_000 + ms(23, 0, 0))
    // a little ahead (printed by a later command) stays today
    const ahead = placeBefore({ _tag: "Timed", at: ms(5, 0, 0, 3), resolutionMs: 1, hasDate: false }, now)
    assert.strictEqual(ahead._tag === "Timed" ? ahead.at : 0, day + ms(5, 0, 0, 3))
    // dated times and dates are left alone
    const dated: BirdTime = { _tag: "Dated", day }
    assert.strictEqual(placeBefore(dated, now), dated)
  })
})
