// The built plugin's log file (failed ADD/DEL at warning with code, container, interface, pod; JSON lines; rotation) and its ADD counters in list --prometheus.
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, it } from "@effect/vitest"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
  assertPluginBuilt,
  attachmentEnv,
  describeRun,
  nodeBinary,
  pluginFile,
  runPlugin
} from "./support/BuiltPlugin.ts"
import { ourRoutes } from "./support/KernelRoutes.ts"
import { netConf } from "./support/PluginConfig.ts"
import { inSandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

const lines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
const ranges = [[{ subnet: "100.64.0.0/24" }]]
const pod = { CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-7d9f;K8S_POD_UID=u1" }

suite("routetable-ipam (built): what it logs", () => {
  beforeAll(assertPluginBuilt)

  it(
    "an exhausted pool: code 100 on stdout and a warning in the log naming code, container, interface, pod",
    inSandbox(async ({ ns, dataDir }) => {
      const file = path.join(dataDir, "plugin.log")
      const conf = netConf("1.0.0", dataDir, { ranges: [[{ subnet: "100.64.0.0/31" }]], log: { file } })
      for (const id of ["a", "b"])
        assertAdded(await runPlugin(ns, attachmentEnv(ns, "ADD", id, pod), conf), "1.0.0")
      assert.isFalse(existsSync(file), "successful ADDs log at info, below the default level")
      const run = await runPlugin(ns, attachmentEnv(ns, "ADD", "c", pod), conf)
      assert.strictEqual(run.code, 100, describeRun(run))
      const logged = lines(file)
      assert.strictEqual(logged.length, 1, logged.join("\n"))
      for (const field of [
        "level=WARN",
        "code=100",
        "container=c",
        "ifname=eth0",
        "pod=shop/cart-7d9f",
        "network=e2e"
      ])
        assert.include(logged[0], field)
      assert.strictEqual((await ourRoutes(ns)).length, 2)
      // the counters outlived the three processes; list --prometheus exports them
      const confFile = path.join(dataDir, "10-e2e.conf")
      writeFileSync(confFile, JSON.stringify(conf))
      const metrics = await ns.exec(nodeBinary, [pluginFile, "list", "--config", confFile, "--prometheus"], {
        timeoutMs: 30_000
      })
      assert.strictEqual(metrics.code, 0, metrics.stderr)
      const samples = metrics.stdout.split("\n")
      assert.include(samples, "# TYPE routetable_ipam_add_outcomes_total counter")
      for (const [outcome, value] of [
        ["won", 2],
        ["lost_race", 0],
        ["refused", 0],
        ["exhausted", 1],
        ["try_again_later", 0]
      ] as const)
        assert.include(
          samples,
          `routetable_ipam_add_outcomes_total{network="e2e",outcome="${outcome}"} ${value}`
        )
    })
  )

  it(
    "a failed DEL (the data directory is a file): a warning with its code; JSON lines when asked",
    inSandbox(async ({ ns, dataDir }) => {
      const file = path.join(dataDir, "plugin.log")
      const notADir = path.join(dataDir, "not-a-dir")
      writeFileSync(notADir, "")
      const conf = netConf("1.0.0", notADir, { ranges, log: { file, format: "json" } })
      const run = await runPlugin(ns, attachmentEnv(ns, "DEL", "d", pod), conf)
      assert.notStrictEqual(run.code, 0, describeRun(run))
      const code = (JSON.parse(run.stdout) as { code: number }).code
      const logged = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.strictEqual(logged.length, 1, JSON.stringify(logged))
      assert.strictEqual(logged[0]!.level, "WARN")
      assert.include(String(logged[0]!.message), `DEL e2e failed: code ${code}`)
      assert.deepInclude(logged[0]!.annotations as object, {
        command: "DEL",
        code,
        container: "d",
        ifname: "eth0",
        pod: "shop/cart-7d9f"
      })
    })
  )

  it(
    "rotation: a log file at log.maxBytes becomes <file>.1 before the next line",
    inSandbox(async ({ ns, dataDir }) => {
      const file = path.join(dataDir, "plugin.log")
      writeFileSync(file, "z".repeat(4096))
      writeFileSync(`${file}.1`, "older\n")
      const conf = netConf("1.0.0", dataDir, { ranges, log: { file, level: "info", maxBytes: 4096 } })
      assertAdded(await runPlugin(ns, attachmentEnv(ns, "ADD", "r", pod), conf), "1.0.0")
      assert.strictEqual(readFileSync(`${file}.1`, "utf8"), "z".repeat(4096))
      const fresh = lines(file)
      assert.strictEqual(fresh.length, 1, fresh.join("\n"))
      assert.include(fresh[0], "ADD e2e r/eth0")
      assert.include(fresh[0], "pod=shop/cart-7d9f")
    })
  )
})
