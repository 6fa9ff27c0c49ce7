// Checks text is the Prometheus exposition format as node-exporter's textfile collector reads it.
import { assert } from "@effect/vitest"

/** One sample of the Prometheus text format. */
export interface Sample {
  readonly name: string
  readonly labels: string
  readonly value: number
}

/**
 * Checks `text` is the Prometheus text exposition format as node-exporter's textfile collector reads
 * it (HELP/TYPE before the samples of each metric, one sample a line, a final newline); its samples.
 */
export const assertPrometheusText = (text: string): ReadonlyArray<Sample> => {
  assert.isTrue(text.endsWith("\n"), "ends with a newline")
  const typed = new Map<string, string>()
  const samples: Array<Sample> = []
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line)
    if (comment !== null) {
      if (comment[1] === "TYPE") {
        assert.include(["counter", "gauge", "untyped", "histogram", "summary"], comment[3], line)
        assert.isFalse(typed.has(comment[2] ?? ""), `one TYPE line for ${comment[2]}`)
        typed.set(comment[2] ?? "", comment[3] ?? "")
      }
      continue
    }
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/.exec(line)
    assert.isNotNull(sample, `not a sample line: ${JSON.stringify(line)}`)
    const [, name = "", labels = "", value = ""] = sample ?? []
    assert.isTrue(typed.has(name), `${name} has a TYPE line before its samples`)
    assert.isFalse(Number.isNaN(Number(value)), `${line}: the value is a number`)
    samples.push({ name, labels, value: Number(value) })
  }
  assert.isAbove(samples.length, 0)
  return samples
}
