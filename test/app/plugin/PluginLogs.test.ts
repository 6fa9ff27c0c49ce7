// What the plugin writes to its log: every failed verb at warning with code, container, interface and pod; lost races at info; JSON lines; rotation by size.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
import { type MemoryNode, makeMemoryNode, PluginAdapters } from "../../../src/app/plugin/PluginAdapters.ts"
import { Attachments, AttachmentsError } from "../../../src/domain/Attachments.ts"
import { type Ip, parseIp } from "../../../src/domain/Ip.ts"
import { baseEnv, invoke, netConf, runCni } from "./CniHarness.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const logFile = () => join(mkdtempSync(join(tmpdir(), "cni-logs-")), "plugin.log")
const lines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
const podArgs = "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-7d9f;K8S_POD_UID=u1"
const withPod = (command: string, id: string) => ({ ...baseEnv(command, id), CNI_ARGS: podArgs })

/** The node, except that every read of an owner record fails (a broken disk). */
const brokenStore = (node: MemoryNode): MemoryNode => ({
  ...node,
  adapters: PluginAdapters.of({
    layerFor: (settings) =>
      Layer.merge(
        node.adapters.layerFor(settings),
        Layer.succeed(
          Attachments,
          Attachments.of({
            ...node.attachments,
            get: () => Effect.fail(new AttachmentsError({ operation: "read", message: "disk on fire" }))
          })
        )
      )
  })
})

describe("plugin logs", () => {
  it.effect("a failed ADD (pool exhausted, 100) is a warning with code, container, interface and pod", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const file = logFile()
      const conf = netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/31" }]], log: { file } })
      for (const id of ["a", "b"])
        assert.strictEqual((yield* runCni(node, withPod("ADD", id), conf)).status, 0)
      assert.isFalse(existsSync(file), "successful ADDs are info: nothing at the default level (warn)")
      const out = yield* runCni(node, withPod("ADD", "c"), conf)
      assert.strictEqual(out.status, 100)
      const [line, ...rest] = lines(file)
      assert.deepStrictEqual(rest, [])
      assert.include(line, "level=WARN")
      assert.include(line, "ADD pods failed: code 100")
      assert.include(line, "code=100")
      assert.include(line, "container=c")
      assert.include(line, "ifname=eth0")
      assert.include(line, "pod=shop/cart-7d9f")
      assert.include(line, "network=pods")
    })
  )

  it.effect("the pod from CNI_ARGS reaches the owner record; podman's K8S_POD_NAME alone too", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const conf = netConf("1.0.0")
      assert.strictEqual((yield* runCni(node, withPod("ADD", "k"), conf)).status, 0)
      const podman = { ...baseEnv("ADD", "p"), CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=web" }
      assert.strictEqual((yield* runCni(node, podman, conf)).status, 0)
      assert.strictEqual((yield* runCni(node, baseEnv("ADD", "n"), conf)).status, 0)
      const records = yield* node.attachments.list("pods")
      assert.deepStrictEqual(
        records.map((r) => [r.containerId, r.pod]),
        [
          ["k", { namespace: "shop", name: "cart-7d9f" }],
          ["n", undefined],
          ["p", { name: "web" }]
        ]
      )
    })
  )

  it.effect("fabric unhealthy (11): a warning naming code 11; without pod args no pod field", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      yield* node.setFabricHealth({
        healthy: false,
        established: 0,
        required: 1,
        detail: "0 of 2 up",
        epoch: "e"
      })
      const file = logFile()
      const conf = netConf("1.0.0", {
        fabricHealth: { type: "bird", socket: "/run/bird/bird.ctl" },
        log: { file }
      })
      assert.strictEqual((yield* runCni(node, baseEnv("ADD", "x"), conf)).status, 11)
      const [line] = lines(file)
      assert.include(line, "level=WARN")
      assert.include(line, "code=11")
      assert.include(line, "container=x")
      assert.notInclude(line, "pod=")
    })
  )

  it.effect("a failed DEL is a warning too; a successful DEL is info", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const file = logFile()
      const conf = netConf("1.0.0", { log: { file, level: "info" } })
      assert.strictEqual((yield* runCni(node, withPod("ADD", "d"), conf)).status, 0)
      assert.strictEqual((yield* runCni(node, withPod("DEL", "d"), conf)).status, 0)
      const failed = yield* runCni(brokenStore(node), withPod("DEL", "d"), conf)
      assert.notStrictEqual(failed.status, 0)
      const all = lines(file)
      assert.strictEqual(all.length, 3, all.join("\n"))
      assert.include(all[0], "level=INFO")
      assert.include(all[0], "ADD pods d/eth0")
      assert.include(all[1], "level=INFO")
      assert.include(all[1], "DEL pods d/eth0")
      assert.include(all[1], "pod=shop/cart-7d9f")
      assert.include(all[2], "level=WARN")
      assert.include(all[2], "DEL pods failed")
      assert.include(all[2], `code=${failed.status}`)
      assert.include(all[2], "disk on fire")
      assert.include(all[2], "container=d")
    })
  )

  it.effect("a lost race is logged at info (not only at debug), with the competitor", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const file = logFile()
      const conf = netConf(
        "1.0.0",
        { log: { file, level: "info" }, tieBreak: false },
        { runtimeConfig: { ips: ["100.64.0.20"] } }
      )
      const fiber = yield* Effect.forkChild(invoke(node, baseEnv("ADD", "r"), conf))
      yield* TestClock.adjust("10 millis") // our claim is in, the wait (50 ms) is running
      yield* node.routes.addOther({ host: at("100.64.0.20"), nextHop: at("198.18.0.2") })
      yield* TestClock.adjust("1 minute")
      const out = yield* Fiber.join(fiber)
      assert.notStrictEqual(out.status, 0)
      const all = lines(file)
      const lost = all.find((l) => l.includes("attempt 1 100.64.0.20: Lost"))
      assert.isDefined(lost, all.join("\n"))
      assert.include(lost, "level=INFO")
      assert.include(lost, "via 198.18.0.2")
      assert.isDefined(all.find((l) => l.includes("level=WARN") && l.includes(`code=${out.status}`)))
    })
  )

  it.effect("format json: one JSON object per line with level, message and the annotations", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const file = logFile()
      const conf = netConf("1.0.0", { log: { file, level: "info", format: "json" } })
      assert.strictEqual((yield* runCni(node, withPod("ADD", "j"), conf)).status, 0)
      const all = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.strictEqual(all.length, 1)
      const entry = all[0]!
      assert.strictEqual(entry.level, "INFO")
      assert.isString(entry.timestamp)
      assert.match(String(entry.message), /^ADD pods j\/eth0: 100\.64\.0\.\d+$/)
      assert.deepInclude(entry.annotations as object, {
        command: "ADD",
        network: "pods",
        container: "j",
        ifname: "eth0",
        pod: "shop/cart-7d9f"
      })
    })
  )

  it.effect(
    "rotation: a file at maxBytes moves to <file>.1 (replacing the older one) before the next line",
    () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const file = logFile()
        writeFileSync(`${file}.1`, "oldest\n")
        writeFileSync(file, "x".repeat(1000))
        const conf = (maxBytes: number) => netConf("1.0.0", { log: { file, level: "info", maxBytes } })
        // below the bound: appended in place
        assert.strictEqual((yield* runCni(node, baseEnv("ADD", "r1"), conf(2000))).status, 0)
        assert.strictEqual(readFileSync(`${file}.1`, "utf8"), "oldest\n")
        assert.isTrue(readFileSync(file, "utf8").startsWith("x".repeat(1000)))
        // at or over the bound: rotated first
        assert.strictEqual((yield* runCni(node, baseEnv("ADD", "r2"), conf(1000))).status, 0)
        assert.isTrue(readFileSync(`${file}.1`, "utf8").startsWith("x".repeat(1000)))
        assert.include(readFileSync(`${file}.1`, "utf8"), "ADD pods r1/eth0")
        const fresh = lines(file)
        assert.strictEqual(fresh.length, 1)
        assert.include(fresh[0], "ADD pods r2/eth0")
        // 0: never rotated
        writeFileSync(file, "y".repeat(5000))
        assert.strictEqual((yield* runCni(node, baseEnv("ADD", "r3"), conf(0))).status, 0)
        assert.isTrue(readFileSync(file, "utf8").startsWith("y".repeat(5000)))
        assert.include(readFileSync(file, "utf8"), "ADD pods r3/eth0")
      })
  )

  it.effect("a request refused before its config decoded is logged too: to the config's own log file", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const file = logFile()
      const conf = netConf("1.0.0", { propagationTimeout: "5ms", log: { file, level: "info" } })
      const out = yield* runCni(node, withPod("ADD", "early1"), conf)
      assert.strictEqual(out.status, 7)
      const logged = lines(file)
      assert.strictEqual(logged.length, 1)
      assert.match(logged[0]!, /level=WARN/)
      assert.include(logged[0], "ADD refused: code 7")
      assert.include(logged[0], "ipam.propagationTimeout")
      assert.include(logged[0], "container=early1")
      assert.include(logged[0], "ifname=eth0")
    })
  )

  it.effect(
    "a refusal whose log settings are themselves wrong (or whose stdin is no JSON) goes to stderr",
    () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const file = logFile()
        const written: Array<string> = []
        const original = process.stderr.write.bind(process.stderr)
        process.stderr.write = ((chunk: string | Uint8Array) => {
          written.push(String(chunk))
          return true
        }) as typeof process.stderr.write
        const bad = yield* Effect.ensuring(
          Effect.all([
            runCni(node, baseEnv("ADD", "early2"), netConf("1.0.0", { log: { file, level: "loud" } })),
            runCni(node, baseEnv("DEL", "early3"), "{not json")
          ]),
          Effect.sync(() => {
            process.stderr.write = original
          })
        )
        assert.deepStrictEqual(
          bad.map((o) => o.status),
          [7, 6]
        )
        assert.isFalse(existsSync(file), "an invalid log setting is not used")
        const text = written.join("")
        assert.include(text, "ADD refused: code 7")
        assert.include(text, "ipam.log.level")
        assert.include(text, "container=early2")
        assert.include(text, "DEL refused: code 6")
        assert.include(text, "container=early3")
      })
  )
})
