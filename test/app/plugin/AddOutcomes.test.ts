// The plugin counts every ADD's outcome (won, lost races, refused, exhausted, code 11) in the node's counters.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
import { makeMemoryNode } from "../../../src/app/plugin/PluginAdapters.ts"
import { noOutcomes } from "../../../src/domain/AddOutcomes.ts"
import { type Ip, parseIp } from "../../../src/domain/Ip.ts"
import { baseEnv, invoke, netConf, runCni } from "./CniHarness.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))

describe("ADD outcome counters", () => {
  it.effect("won, exhausted (100), refused (101), code 11; DEL and invalid configs count nothing", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const small = netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/31" }]] })
      for (const id of ["a", "b"])
        assert.strictEqual((yield* runCni(node, baseEnv("ADD", id), small)).status, 0)
      assert.strictEqual((yield* runCni(node, baseEnv("ADD", "c"), small)).status, 100)
      const taken = netConf(
        "1.0.0",
        { ranges: [[{ subnet: "100.64.0.0/31" }]] },
        { runtimeConfig: { ips: ["100.64.0.0"] } }
      )
      assert.strictEqual((yield* runCni(node, baseEnv("ADD", "d"), taken)).status, 101)
      yield* node.setFabricHealth({ healthy: false, established: 0, required: 1, detail: "down", epoch: "e" })
      const bird = netConf("1.0.0", { fabricHealth: { type: "bird", socket: "/run/bird/bird.ctl" } })
      assert.strictEqual((yield* runCni(node, baseEnv("ADD", "e"), bird)).status, 11)
      assert.strictEqual((yield* runCni(node, baseEnv("DEL", "a"), small)).status, 0)
      assert.strictEqual(
        (yield* runCni(node, baseEnv("ADD", "f"), netConf("1.0.0", { metric: 1 }))).status,
        7
      )
      assert.deepStrictEqual(yield* node.outcomes.read("pods"), {
        won: 2,
        lostRaces: 0,
        refused: 1,
        exhausted: 1,
        tryAgainLater: 1
      })
    })
  )

  it.effect("a lost race counts as lost_race; the ADD's failure counts too", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const conf = netConf("1.0.0", { tieBreak: false }, { runtimeConfig: { ips: ["100.64.0.20"] } })
      const fiber = yield* Effect.forkChild(invoke(node, baseEnv("ADD", "r"), conf))
      yield* TestClock.adjust("10 millis")
      yield* node.routes.addOther({ host: at("100.64.0.20"), nextHop: at("198.18.0.2") })
      yield* TestClock.adjust("1 minute")
      const out = yield* Fiber.join(fiber)
      assert.notStrictEqual(out.status, 0)
      const counts = yield* node.outcomes.read("pods")
      assert.strictEqual(counts.lostRaces, 1)
      assert.strictEqual(counts.won, 0)
      assert.strictEqual(counts.refused + counts.exhausted + counts.tryAgainLater, 1)
      assert.deepStrictEqual(yield* node.outcomes.read("other"), noOutcomes)
    })
  )
})
