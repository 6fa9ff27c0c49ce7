// Tests of `routetable-ipam simulate`: flags, the readable and JSON reports, replay by seed, usage errors.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestConsole } from "effect/testing"
import { command, scenarioOf, simulateFlags } from "../../src/app/commands/simulate.ts"
import { formatSweepTable } from "../../src/app/simulation/WaitSweep.ts"
import { parseErrorsOf, parseWith, runCli } from "../app/commands/CliHarness.ts"

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
      const text = (yield* TestConsole.logLines).map(String).join("\n")
      assert.match(text, /simulate \[flags\]/)
      assert.match(text, /--delay DIST/)
      assert.match(text, /--wait DURATION\[,DURATION\.\.\.\]/)
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

  it.effect("flags: defaults, forms and usage errors (exit code 2)", () =>
    Effect.gen(function* () {
      const parsed = yield* parseWith(simulateFlags, [
        "--nodes=3",
        "--no-tie-break",
        "--order",
        "sequential",
        "--seed",
        "abc"
      ])
      const scenario = scenarioOf(parsed, parsed.wait[0]!)
      assert.strictEqual(scenario.nodes, 3)
      assert.strictEqual(scenario.perNode, 10)
      assert.deepStrictEqual(parsed.wait, [250])
      assert.isFalse(scenario.tieBreak)
      assert.strictEqual(scenario.seed, "abc")
      assert.strictEqual(scenario.order, "sequential")
      assert.deepStrictEqual(
        (yield* parseWith(simulateFlags, ["--wait", "50ms,0.1s,250"])).wait,
        [50, 100, 250]
      )
      for (const [bad, message] of [
        [["--nodes", "0"], /--nodes/],
        [["--delay", "soon"], /soon/],
        [["--arrival", "later"], /--arrival/],
        [["--bogus"], /--bogus/],
        [["--wait"], /--wait/],
        [["--wait", "50ms,,100ms"], /--wait/],
        [["--requested", "2"], /--requested/]
      ] as const) {
        assert.match(parseErrorsOf(yield* Effect.flip(parseWith(simulateFlags, bad))), message, bad.join(" "))
        const failed = yield* Effect.flip(command.run(bad))
        assert.strictEqual(failed.exitCode, 2, bad.join(" "))
      }
    })
  )

  it.effect("--wait with several W: one table, one row per W, duplicates only where D > W", () =>
    Effect.gen(function* () {
      const args = [
        "--nodes",
        "20",
        "--per-node",
        "5",
        "--pool",
        "100.64.0.0/24",
        "--delay",
        "200ms",
        "--seed",
        "3"
      ]
      const run = yield* runCli(["simulate", ...args, "--wait", "50ms,250ms", "--json"])
      assert.strictEqual(run.code, 0, run.stderr)
      const json = JSON.parse(run.stdout) as {
        duplicates: number
        runs: ReadonlyArray<Record<string, number>>
      }
      assert.deepStrictEqual(
        json.runs.map((r) => r.wait),
        [50, 250]
      )
      for (const field of [
        "maxDelay",
        "duplicates",
        "won",
        "failed",
        "attemptsMean",
        "attemptsMax",
        "p50",
        "p99"
      ])
        for (const r of json.runs) assert.isNumber(r[field], field)
      assert.strictEqual(json.runs[0]!.maxDelay, 200)
      assert.isAbove(json.runs[0]!.duplicates!, 0)
      assert.strictEqual(json.runs[1]!.duplicates, 0)
      assert.strictEqual(json.duplicates, json.runs[0]!.duplicates)
      assert.isAtLeast(json.runs[1]!.p50!, 250)
    })
  )

  it.effect("--csv: a header and one line per W; --check exits 1 only when a run had duplicates", () =>
    Effect.gen(function* () {
      const args = [
        "--nodes",
        "20",
        "--per-node",
        "5",
        "--pool",
        "100.64.0.0/24",
        "--delay",
        "200ms",
        "--seed",
        "3"
      ]
      const csv = yield* runCli(["simulate", ...args, "--wait", "50ms,250ms", "--csv"])
      const lines = csv.stdout.split("\n")
      assert.strictEqual(
        lines[0],
        "wait_ms,max_delay_ms,duplicates,won,failed,attempts_mean,attempts_max,p50_ms,p99_ms"
      )
      assert.strictEqual(lines.length, 3)
      assert.match(lines[2]!, /^250,200,0,100,0,/)
      const failing = yield* runCli(["simulate", ...args, "--wait", "50ms,250ms", "--check"])
      assert.strictEqual(failing.code, 1)
      assert.match(failing.stderr, /--check: duplicates found: \d+ at W = 50 ms/)
      const passing = yield* runCli(["simulate", ...args, "--wait", "250ms", "--check"])
      assert.strictEqual(passing.code, 0, passing.stderr)
    })
  )

  it("the comparison table (golden)", () => {
    const row = (wait: number, duplicates: number) => ({
      wait,
      maxDelay: 200,
      duplicates,
      won: 100,
      failed: 0,
      attemptsMean: 1.25,
      attemptsMax: 3,
      p50: wait,
      p99: wait * 2
    })
    assert.strictEqual(
      formatSweepTable([row(50, 7), row(250, 0)]),
      [
        "    W      D  DUPLICATES  WON  FAILED  ATTEMPTS  MAX ATTEMPTS    P50    P99",
        " 50ms  200ms           7  100       0      1.25             3   50ms  100ms",
        "250ms  200ms           0  100       0      1.25             3  250ms  500ms",
        "",
        "ATTEMPTS: mean per won allocation; P50/P99: latency of won allocations (simulated).",
        "no duplicates at: 250ms"
      ].join("\n")
    )
  })

  it.effect("a pool that is not a CIDR is a usage error", () =>
    Effect.gen(function* () {
      const failed = yield* Effect.flip(command.run(["--pool", "nonsense"]))
      assert.strictEqual(failed.exitCode, 2)
      assert.match(failed.message, /pool nonsense/)
    })
  )
})
