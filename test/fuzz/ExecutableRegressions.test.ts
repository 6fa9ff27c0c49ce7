// Defects the fuzz run found in the built plugin (issue 12 items 5 and 6), kept as plain regression tests.
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterEach, assert, beforeAll, beforeEach, it } from "@effect/vitest"
import {
  assertCniError,
  assertPluginBuilt,
  attachmentEnv,
  describeRun,
  nodeBinary,
  pluginFile,
  runPlugin
} from "../e2e/support/BuiltPlugin.ts"
import { netConf } from "../e2e/support/PluginConfig.ts"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, privileged } from "../support/Privileges.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

suite("the built plugin: dataDir and log.file hazards", () => {
  let ns: Netns
  let base: string

  beforeAll(assertPluginBuilt)
  beforeEach(async () => {
    ns = await Netns.create()
    base = mkdtempSync(path.join(tmpdir(), "rtipam-hazard-"))
  })
  afterEach(async () => {
    await ns.close()
    rmSync(base, { recursive: true, force: true })
  })

  it("a dataDir where mkdir cannot make progress (/proc through a symlink) fails at once with 5 naming ipam.dataDir", async () => {
    symlinkSync("/proc/1", path.join(base, "proc-link"))
    const conf = netConf("1.0.0", path.join(base, "proc-link", "x"), {
      ranges: [[{ subnet: "100.64.0.0/24" }]]
    })
    const started = performance.now()
    const run = await runPlugin(ns, attachmentEnv(ns, "ADD", "c1"), conf)
    const error = assertCniError(run, 5)
    assert.include(error.msg as string, "ipam.dataDir", describeRun(run))
    // before: 100% CPU until the runtime's kill; the bound only tells a spin from an answer
    assert.isBelow(performance.now() - started, 15_000)
    assert.strictEqual(await ns.run("ip", ["-N", "route", "show", "proto", "192"]), "")
  })

  it("dataDir /proc/1/x is refused with 7 before anything is written", async () => {
    const run = await runPlugin(
      ns,
      attachmentEnv(ns, "ADD", "c1"),
      netConf("1.0.0", "/proc/1/x", { ranges: [[{ subnet: "100.64.0.0/24" }]] })
    )
    assert.include(assertCniError(run, 7).msg as string, "ipam.dataDir")
  })

  it("log.file that resolves to stdout (a symlink to /dev/stdout): stdout still carries exactly one JSON document", async () => {
    const link = path.join(base, "log-link")
    symlinkSync("/dev/stdout", link)
    const dataDir = path.join(base, "data")
    const conf = netConf("1.0.0", dataDir, {
      ranges: [[{ subnet: "100.64.0.0/24" }]],
      log: { file: link, level: "trace" }
    })
    for (const command of ["ADD", "DEL"] as const) {
      const run = await runPlugin(ns, attachmentEnv(ns, command, "c1"), conf)
      assert.strictEqual(run.code, 0, describeRun(run))
      const lines = run.stdout.split("\n").filter((line) => line !== "")
      assert.strictEqual(lines.length, command === "ADD" ? 1 : 0, describeRun(run))
      if (command === "ADD") JSON.parse(lines[0]!)
      assert.include(run.stderr, "is stdout", describeRun(run))
    }
  })

  it("log.file that is the file a runtime redirected stdout to: the file holds exactly one JSON document", async () => {
    const out = path.join(base, "stdout.json")
    const conf = netConf("1.0.0", path.join(base, "data"), {
      ranges: [[{ subnet: "100.64.0.0/24" }]],
      log: { file: out, level: "trace" }
    })
    const env = {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_IFNAME: "eth0",
      CNI_NETNS: ns.path,
      CNI_ARGS: "",
      CNI_PATH: ""
    }
    const run = await ns.exec("sh", ["-c", 'exec "$0" "$1" > "$2"', nodeBinary, pluginFile, out], {
      env,
      stdin: JSON.stringify(conf)
    })
    assert.strictEqual(run.code, 0, run.stderr)
    const lines = readFileSync(out, "utf8")
      .split("\n")
      .filter((line) => line !== "")
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.isArray((JSON.parse(lines[0]!) as { ips: unknown }).ips)
  })

  it("log.file that is a FIFO nobody reads: the plugin answers (it blocked in open(2) forever, ignoring SIGTERM)", async () => {
    const fifo = path.join(base, "log-fifo")
    execFileSync("mkfifo", [fifo])
    const conf = netConf("1.0.0", path.join(base, "data"), {
      ranges: [[{ subnet: "100.64.0.0/24" }]],
      log: { file: fifo, level: "trace" }
    })
    const run = await runPlugin(ns, attachmentEnv(ns, "ADD", "c1"), conf)
    assert.strictEqual(run.code, 0, describeRun(run))
    assert.isArray(JSON.parse(run.stdout).ips)
  })
})
