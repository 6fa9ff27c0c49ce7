// The plugin asks the fabric before ADD and in STATUS: refuse (11, 51) when claims may not propagate, or proceed with a warning.
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makeMemoryNode } from "../../../src/app/plugin/PluginAdapters.ts"
import { FabricHealthError, type FabricReport } from "../../../src/domain/FabricHealth.ts"
import { baseEnv, netConf, runCni, singleJson } from "./CniHarness.ts"

const down: FabricReport = {
  healthy: false,
  established: 0,
  required: 1,
  detail: "0 of 2 BGP sessions established (need 1)",
  epoch: "e1"
}
const bird = { type: "bird", socket: "/run/bird/bird.ctl" }

describe("fabric health", () => {
  describe("ADD", () => {
    it.effect("unhealthy: code 11 with the report's detail, nothing claimed, nothing written", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.setFabricHealth(down)
        const out = yield* runCni(node, baseEnv("ADD"), netConf("1.0.0", { fabricHealth: bird }))
        assert.strictEqual(out.status, 11)
        const error = singleJson(out.stdout)
        assert.strictEqual(error.code, 11)
        assert.include(error.msg as string, "fabric unhealthy: 0 of 2 BGP sessions established (need 1)")
        assert.include(error.msg as string, "try again later")
        assert.deepStrictEqual(yield* node.routes.snapshot, [])
        assert.deepStrictEqual(yield* node.attachments.list("pods"), [])
      })
    )

    it.effect("the daemon cannot be asked: code 11 naming why, nothing claimed", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.setFabricHealth(
          new FabricHealthError({ message: "cannot ask BIRD at /run/bird/bird.ctl: ENOENT" })
        )
        const out = yield* runCni(node, baseEnv("ADD"), netConf("1.1.0", { fabricHealth: bird }))
        assert.strictEqual(out.status, 11)
        assert.include(singleJson(out.stdout).msg as string, "cannot ask BIRD at /run/bird/bird.ctl: ENOENT")
        assert.deepStrictEqual(yield* node.routes.snapshot, [])
        assert.deepStrictEqual(yield* node.attachments.list("pods"), [])
      })
    )

    it.effect("healthy again: the next ADD allocates", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.setFabricHealth(down)
        assert.strictEqual((yield* runCni(node, baseEnv("ADD"), netConf("1.0.0"))).status, 11)
        yield* node.setFabricHealth({ ...down, healthy: true, established: 2, detail: "2 of 2" })
        const out = yield* runCni(node, baseEnv("ADD"), netConf("1.0.0"))
        assert.strictEqual(out.status, 0, out.stdout)
        assert.strictEqual((yield* node.routes.snapshot).length, 1)
      })
    )

    it.effect('onUnhealthy "proceed": allocates anyway and logs a warning', () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.setFabricHealth(down)
        const file = join(mkdtempSync(join(tmpdir(), "cni-log-")), "plugin.log")
        const conf = netConf("1.0.0", {
          fabricHealth: { ...bird, onUnhealthy: "proceed" },
          log: { file, level: "warn" }
        })
        const out = yield* runCni(node, baseEnv("ADD"), conf)
        assert.strictEqual(out.status, 0, out.stdout)
        const address = (singleJson(out.stdout).ips as Array<{ address: string }>)[0]!.address
        assert.match(address, /^100\.64\.0\.\d+\/24$/)
        assert.strictEqual((yield* node.routes.snapshot).length, 1)
        assert.strictEqual((yield* node.attachments.list("pods")).length, 1)
        const log = readFileSync(file, "utf8")
        assert.include(log, "level=WARN")
        assert.include(log, "fabric unhealthy (0 of 2 BGP sessions established (need 1))")
        assert.include(log, "ipam.fabricHealth.onUnhealthy is")
      })
    )

    it.effect("a bad fabricHealth is code 7 naming the field", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const out = yield* runCni(
          node,
          baseEnv("ADD"),
          netConf("1.0.0", { fabricHealth: { type: "bird", onUnhealthy: "ignore" } })
        )
        assert.strictEqual(out.status, 7)
        assert.include(singleJson(out.stdout).msg as string, "ipam.fabricHealth.onUnhealthy")
        assert.deepStrictEqual(node.settingsSeen(), [])
      })
    )
  })

  describe("STATUS", () => {
    it.effect("unhealthy: code 51 with the detail", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.setFabricHealth(down)
        const out = yield* runCni(node, { CNI_COMMAND: "STATUS" }, netConf("1.1.0", { fabricHealth: bird }))
        assert.strictEqual(out.status, 51)
        const error = singleJson(out.stdout)
        assert.strictEqual(error.code, 51)
        assert.include(error.msg as string, "0 of 2 BGP sessions established")
      })
    )

    it.effect("cannot ask: 51 too; an exhausted pool with a healthy fabric stays 50", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const tiny = netConf("1.1.0", { ranges: [[{ subnet: "100.64.0.0/30" }]] })
        for (const id of ["a", "b"])
          assert.strictEqual((yield* runCni(node, baseEnv("ADD", id), tiny)).status, 0)
        assert.strictEqual((yield* runCni(node, { CNI_COMMAND: "STATUS" }, tiny)).status, 50)
        yield* node.setFabricHealth(new FabricHealthError({ message: "cannot ask BIRD: refused" }))
        const out = yield* runCni(node, { CNI_COMMAND: "STATUS" }, tiny)
        assert.strictEqual(out.status, 51)
        assert.include(singleJson(out.stdout).msg as string, "cannot ask BIRD: refused")
      })
    )

    it.effect('onUnhealthy "proceed": STATUS reports ready (ADD would be served)', () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.setFabricHealth(down)
        const conf = netConf("1.1.0", { fabricHealth: { ...bird, onUnhealthy: "proceed" } })
        const out = yield* runCni(node, { CNI_COMMAND: "STATUS" }, conf)
        assert.strictEqual(out.status, 0, out.stdout)
        assert.strictEqual(out.stdout, "")
      })
    )
  })
})
