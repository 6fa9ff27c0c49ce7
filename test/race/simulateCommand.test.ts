// Tests of `routetable-ipam simulate`: flags, the readable and JSON reports, replay by seed, usage errors.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestConsole } from "effect/testing"
import { command, parseFlags } from "../../src/app/commands/simulate.ts"
import { CommandFailed } from "../../src/app/OperatorCommand.ts"

const jsonOf = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* command.run([...args, "--json"])
    const lines = yield* TestConsole.logLines
    const parsed = JSON.parse(String(lines[lines.length - 1])) as Record<string, unknown>
    return parsed
  })

describe("simulate command", () => {
  it.effect("--help prints the usage", () =>
    Effect.gen(function* () {
      yield* command.run(["--help"])
      const lines = yield* TestConsole.logLines
      assert.match(String(lines[0]), /Usage: routetable-ipam simulate/)
      assert.match(String(lines[0]), /--delay DIST/)
      assert.strictEqual(command.name, "simulate")
    })
  )

  it.effect(
    "--json: one object whose top-level duplicates counts double allocations; same seed, same report",
    () =>
      Effect.gen(function* () {
        const args = [
          "--nodes",
          "8",
          "--per-node",
          "6",
          "--pool",
          "100.64.0.0/26",
          "--delay",
          "0-100ms",
          "--wait",
          "100ms"
        ]
        const first = yield* jsonOf([...args, "--seed", "5"])
        const again = yield* jsonOf([...args, "--seed", "5"])
        const other = yield* jsonOf([...args, "--seed", "6"])
        assert.strictEqual(first.duplicates, 0)
        const { measured: _m1, ...a } = first
        const { measured: _m2, ...b } = again
        const { measured: _m3, ...c } = other
        assert.deepStrictEqual(a, b)
        assert.notDeepEqual(a, c)
        assert.deepStrictEqual((first.allocations as Record<string, number>).asked, 48)
        assert.isNumber((first.measured as Record<string, number>).peakMemoryMb)
      })
  )

  it.effect("D > W shows double allocations in the report", () =>
    Effect.gen(function* () {
      const report = yield* jsonOf([
        "--nodes",
        "20",
        "--per-node",
        "5",
        "--pool",
        "100.64.0.0/24",
        "--delay",
        "400ms",
        "--wait",
        "250ms"
      ])
      assert.isAbove(report.duplicates as number, 0)
    })
  )

  it.effect("the readable report names the duplicates, the attempts histogram, latency and the footer", () =>
    Effect.gen(function* () {
      yield* command.run([
        "--nodes",
        "4",
        "--per-node",
        "3",
        "--delay",
        "longtail:10ms:200ms",
        "--arrival",
        "spread"
      ])
      const text = String((yield* TestConsole.logLines)[0])
      for (const part of [
        /^duplicates 0$/m,
        /attempts per won allocation/,
        /latency +p50/,
        /D <= W/,
        /wall [\d.]+ s, peak memory \d+ MB/
      ]) {
        assert.match(text, part)
      }
    })
  )

  it("flags: defaults, forms and usage errors (exit code 2)", () => {
    const parsed = parseFlags(["--nodes=3", "--no-tie-break", "--order", "sequential", "--seed", "abc"])
    assert.notInstanceOf(parsed, CommandFailed)
    if (parsed instanceof CommandFailed) return
    assert.strictEqual(parsed.scenario.nodes, 3)
    assert.strictEqual(parsed.scenario.perNode, 10)
    assert.strictEqual(parsed.scenario.wait, 250)
    assert.isFalse(parsed.scenario.tieBreak)
    assert.strictEqual(parsed.scenario.seed, "abc")
    for (const bad of [
      ["--nodes", "0"],
      ["--delay", "soon"],
      ["--arrival", "later"],
      ["--bogus"],
      ["--wait"]
    ]) {
      const failed = parseFlags(bad)
      assert.instanceOf(failed, CommandFailed, bad.join(" "))
      assert.strictEqual((failed as CommandFailed).exitCode, 2)
    }
  })

  it.effect("a pool that is not a CIDR is a usage error", () =>
    Effect.gen(function* () {
      const failed = yield* Effect.flip(command.run(["--pool", "nonsense"]))
      assert.strictEqual(failed.exitCode, 2)
      assert.match(failed.message, /pool nonsense/)
    })
  )
})
