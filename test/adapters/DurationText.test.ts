// The one duration parser: units, a bare number in milliseconds, and what it refuses.
import { assert, it } from "@effect/vitest"
import { parseDurationMs } from "../../src/adapters/DurationText.ts"

it("reads ns, us, ms, s, m, h; a bare number is milliseconds", () => {
  for (const [text, ms] of [
    ["250ms", 250],
    ["250", 250],
    ["1.5s", 1500],
    [".5s", 500],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["500us", 0.5],
    [" 40 ms ", 40],
    ["0", 0]
  ] as const)
    assert.strictEqual(parseDurationMs(text), ms, text)
})

it("refuses negative numbers, unknown units and empty text", () => {
  for (const text of ["-5s", "5d", "soon", "", "1e3", "5 m s"])
    assert.isUndefined(parseDurationMs(text), text)
})

it("a range's lower bound may take the upper bound's unit (0-200ms)", () => {
  assert.strictEqual(parseDurationMs("2", "s"), 2000)
})
