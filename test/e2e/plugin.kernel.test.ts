// The built plugin (dist/routetable-ipam) on a real kernel: every verb, in a fresh private namespace per test.
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, it } from "@effect/vitest"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
  assertCniError,
  assertPluginBuilt,
  assertQuietSuccess,
  attachmentEnv,
  describeRun,
  hostOf,
  type PluginRun,
  type ResultIp,
  runPlugin,
  runPluginWithDefaultDataDir,
  stdoutJson
} from "./support/BuiltPlugin.ts"
import { assertOurRoutes, ourRoutes, routesWithProtocol } from "./support/KernelRoutes.ts"
import { filesUnder, netConf } from "./support/PluginConfig.ts"
import { inSandbox, type Sandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

const versions = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const
const hasVersionField = (version: string) => version === "0.3.1" || version === "0.4.0"

const v4Range = { subnet: "100.64.0.0/24", gateway: "100.64.0.1" }
const v6Range = { subnet: "fd00:64::/120" }
const stacks = {
  IPv4: { ranges: [[v4Range]], families: ["4"] },
  IPv6: { ranges: [[v6Range]], families: ["6"] },
  "dual stack": { ranges: [[v4Range], [v6Range]], families: ["4", "6"] }
} as const

/** `100.64.0.N` -> N. */
const lastOctet = (host: string): number => Number(host.split(".")[3])

/** ADD `containerId` with `conf`; assert success and return the result's ips. */
const add = async (
  { ns }: Sandbox,
  containerId: string,
  conf: Record<string, unknown>,
  extraEnv?: { readonly CNI_ARGS?: string }
): Promise<ReadonlyArray<ResultIp>> =>
  assertAdded(
    await runPlugin(ns, attachmentEnv(ns, "ADD", containerId, extraEnv), conf),
    String(conf.cniVersion)
  )

/** Assert the record files under the network "e2e" are exactly one per container in `containerIds`. */
const assertRecords = (dataDir: string, expected: Readonly<Record<string, ReadonlyArray<string>>>): void => {
  const files = filesUnder(dataDir)
  const context = `files in ${dataDir}: ${JSON.stringify(files)}`
  assert.strictEqual(files.length, Object.keys(expected).length, context)
  for (const [containerId, hosts] of Object.entries(expected)) {
    const file = files.find((name) => path.basename(name).startsWith(`${containerId}@`))
    assert.isDefined(file, `no record of ${containerId}; ${context}`)
    const text = readFileSync(path.join(dataDir, file!), "utf8")
    for (const host of hosts) assert.include(text, host, `record of ${containerId}: ${text}`)
  }
}

suite("routetable-ipam (built) on a real kernel", () => {
  beforeAll(assertPluginBuilt)

  it(
    "VERSION lists every supported version without reading stdin",
    inSandbox(async ({ ns }) => {
      const run = await runPlugin(ns, { CNI_COMMAND: "VERSION" }, "not json, not read")
      assert.strictEqual(run.code, 0, describeRun(run))
      assert.deepStrictEqual(stdoutJson(run), {
        cniVersion: "1.1.0",
        supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
      })
    })
  )

  for (const [stackName, stack] of Object.entries(stacks)) {
    for (const version of versions) {
      it(
        `${stackName}, ${version}: ADD result shape and routes, CHECK, DEL`,
        inSandbox(async (sandbox) => {
          const { ns, dataDir } = sandbox
          const conf = netConf(version, dataDir, { ranges: stack.ranges })
          const ips = await add(sandbox, "c1", conf)
          assert.deepStrictEqual(
            ips.map((ip) => ip.version ?? "none"),
            hasVersionField(version) ? [...stack.families] : stack.families.map(() => "none")
          )
          for (const [i, family] of stack.families.entries()) {
            const ip = ips[i]!
            if (family === "4") {
              assert.match(ip.address, /^100\.64\.0\.\d+\/24$/)
              assert.strictEqual(ip.gateway, "100.64.0.1")
              assert.notStrictEqual(hostOf(ip), "100.64.0.1", "the gateway is never handed out")
              assert.isAtLeast(lastOctet(hostOf(ip)), 2)
              assert.isAtMost(lastOctet(hostOf(ip)), 254)
            } else {
              assert.match(ip.address, /^fd00:64::[0-9a-f]{1,2}\/120$/)
              assert.notProperty(ip, "gateway")
            }
          }
          const hosts = ips.map(hostOf)
          await assertOurRoutes(ns, hosts)
          assertRecords(dataDir, { c1: hosts })

          const prevResult = { cniVersion: version, ips }
          const check = await runPlugin(ns, attachmentEnv(ns, "CHECK", "c1"), { ...conf, prevResult })
          if (version === "0.3.1") assertCniError(check, 1)
          else assertQuietSuccess(check)

          assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c1"), { ...conf, prevResult }))
          await assertOurRoutes(ns, [])
          assert.deepStrictEqual(filesUnder(dataDir), [])
          if (version !== "0.3.1") {
            // the reservation is gone: CHECK must fail (container unknown)
            assertCniError(await runPlugin(ns, attachmentEnv(ns, "CHECK", "c1"), { ...conf, prevResult }), 3)
          }
        })
      )
    }
  }

  it(
    "CHECK fails when our route was removed behind the plugin's back",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = netConf("1.0.0", dataDir, { ranges: [[v4Range]] })
      const ips = await add(sandbox, "c1", conf)
      await ns.run("ip", ["route", "del", `${hostOf(ips[0]!)}/32`, "proto", "192"])
      const check = await runPlugin(ns, attachmentEnv(ns, "CHECK", "c1"), {
        ...conf,
        prevResult: { cniVersion: "1.0.0", ips }
      })
      assertCniError(check, 103)
    })
  )

  it(
    "GC (1.1.0) releases every attachment and unexplained route of ours not listed as valid",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = netConf("1.1.0", dataDir, { ranges: [[v4Range], [v6Range]] })
      const kept = (await add(sandbox, "c1", conf)).map(hostOf)
      await add(sandbox, "c2", conf)
      await add(sandbox, "c3", conf)
      // a route of ours nobody holds (a crashed ADD), and a foreign route in the pool that GC must not touch
      await ns.run("ip", ["route", "add", "100.64.0.200/32", "dev", "lo", "proto", "192", "metric", "4096"])
      await ns.run("ip", ["route", "add", "100.64.0.201/32", "dev", "lo", "proto", "12", "metric", "32"])
      const gc = await runPlugin(
        ns,
        { CNI_COMMAND: "GC" },
        {
          ...conf,
          "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }]
        }
      )
      assertQuietSuccess(gc)
      await assertOurRoutes(ns, kept)
      assertRecords(dataDir, { c1: kept })
      const foreign = (await routesWithProtocol(ns, 4, 12)).map((route) => route.dst)
      assert.deepStrictEqual(foreign, ["100.64.0.201"])
    })
  )

  it(
    "STATUS (1.1.0): exit 0 while a pool has room, code 50 when it is full",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = netConf("1.1.0", dataDir, { subnet: "100.64.0.0/30" })
      assertQuietSuccess(await runPlugin(ns, { CNI_COMMAND: "STATUS" }, conf))
      await add(sandbox, "c1", conf)
      assertQuietSuccess(await runPlugin(ns, { CNI_COMMAND: "STATUS" }, conf))
      await add(sandbox, "c2", conf)
      assertCniError(await runPlugin(ns, { CNI_COMMAND: "STATUS" }, conf), 50)
      assert.lengthOf(await ourRoutes(ns), 2, "STATUS changes nothing")
    })
  )

  it(
    "requested addresses: runtimeConfig.ips, args.cni.ips, CNI_ARGS IP= (and that precedence)",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = (extra?: Record<string, unknown>) =>
        netConf("1.0.0", dataDir, { ranges: [[v4Range], [v6Range]] }, extra)
      const byRuntime = await add(
        sandbox,
        "c1",
        conf({ runtimeConfig: { ips: ["100.64.0.77", "fd00:64::77"] } })
      )
      assert.deepStrictEqual(
        byRuntime.map((ip) => ip.address),
        ["100.64.0.77/24", "fd00:64::77/120"]
      )
      const byArgs = await add(
        sandbox,
        "c2",
        conf({ args: { cni: { ips: ["100.64.0.78/24", "fd00:64::78"] } } })
      )
      assert.deepStrictEqual(
        byArgs.map((ip) => ip.address),
        ["100.64.0.78/24", "fd00:64::78/120"]
      )
      const byEnv = await add(sandbox, "c3", conf(), {
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p3;IP=100.64.0.79,fd00:64::79"
      })
      assert.deepStrictEqual(
        byEnv.map((ip) => ip.address),
        ["100.64.0.79/24", "fd00:64::79/120"]
      )
      const all = await add(
        sandbox,
        "c4",
        conf({
          runtimeConfig: { ips: ["100.64.0.80", "fd00:64::80"] },
          args: { cni: { ips: ["100.64.0.81", "fd00:64::81"] } }
        }),
        { CNI_ARGS: "IP=100.64.0.82,fd00:64::82" }
      )
      assert.deepStrictEqual(
        all.map((ip) => ip.address),
        ["100.64.0.80/24", "fd00:64::80/120"]
      )
      const argsOverEnv = await add(
        sandbox,
        "c5",
        conf({ args: { cni: { ips: ["100.64.0.83", "fd00:64::83"] } } }),
        {
          CNI_ARGS: "IP=100.64.0.84,fd00:64::84"
        }
      )
      assert.deepStrictEqual(
        argsOverEnv.map((ip) => ip.address),
        ["100.64.0.83/24", "fd00:64::83/120"]
      )
      await assertOurRoutes(ns, [
        ...["77", "78", "79", "80", "83"].map((n) => `100.64.0.${n}`),
        ...["77", "78", "79", "80", "83"].map((n) => `fd00:64::${n}`)
      ])
    })
  )

  it(
    "a requested address held by another container -> 101, outside the pools -> 102, nothing left behind",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = (ips: ReadonlyArray<string>) =>
        netConf("1.0.0", dataDir, { ranges: [[v4Range]] }, { runtimeConfig: { ips } })
      await add(sandbox, "c1", conf(["100.64.0.77"]))
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", "c2"), conf(["100.64.0.77"])), 101)
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", "c3"), conf(["100.65.0.1"])), 102)
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", "c4"), conf(["100.64.0.1"])), 102)
      await assertOurRoutes(ns, ["100.64.0.77"])
      assertRecords(dataDir, { c1: ["100.64.0.77"] })
    })
  )

  it(
    "a requested address held by a route of another protocol -> 101, and no route or record of ours",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      await ns.run("ip", ["route", "add", "100.64.0.9/32", "dev", "lo", "proto", "12", "metric", "32"])
      const conf = netConf(
        "1.0.0",
        dataDir,
        { ranges: [[v4Range]] },
        { runtimeConfig: { ips: ["100.64.0.9"] } }
      )
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", "c1"), conf), 101)
      await assertOurRoutes(ns, [])
      assert.deepStrictEqual(filesUnder(dataDir), [])
      assert.deepStrictEqual(
        (await routesWithProtocol(ns, 4, 12)).map((route) => [route.dst, route.metric]),
        [["100.64.0.9", 32]],
        "the foreign route is untouched"
      )
    })
  )

  it(
    "exclusions (excludeFirst, excludeLast, exclude) hold over every address of a small pool",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      // 100.64.0.0/28: hosts .1-.14; excludeFirst 3 -> from .3; excludeLast 2 -> up to .12; minus .8-.11
      const conf = netConf("1.0.0", dataDir, {
        subnet: "100.64.0.0/28",
        excludeFirst: 3,
        excludeLast: 2,
        exclude: ["100.64.0.8/30"]
      })
      const expected = ["100.64.0.3", "100.64.0.4", "100.64.0.5", "100.64.0.6", "100.64.0.7", "100.64.0.12"]
      const got: Array<string> = []
      for (let i = 0; i < expected.length; i++) {
        got.push(...(await add(sandbox, `c${i}`, conf)).map(hostOf))
      }
      assert.deepStrictEqual([...got].sort(), [...expected].sort())
      const more = await runPlugin(ns, attachmentEnv(ns, "ADD", "c-extra"), conf)
      assertCniError(more, 100)
      await assertOurRoutes(ns, expected)
      assert.lengthOf(filesUnder(dataDir), expected.length)
    })
  )

  it(
    "32 concurrent ADDs (32 processes) get 32 distinct addresses, 32 routes and 32 records",
    { timeout: 90_000 },
    inSandbox(async ({ ns, dataDir }) => {
      const conf = netConf("1.0.0", dataDir, { subnet: "100.64.0.0/24" })
      const ids = Array.from({ length: 32 }, (_, i) => `concurrent-${i}`)
      const runs: ReadonlyArray<PluginRun> = await Promise.all(
        ids.map((id) => runPlugin(ns, attachmentEnv(ns, "ADD", id), conf))
      )
      const hosts = runs.flatMap((run) => assertAdded(run, "1.0.0").map(hostOf))
      assert.lengthOf(hosts, 32)
      assert.strictEqual(new Set(hosts).size, 32, `duplicates among ${hosts.join(", ")}`)
      await assertOurRoutes(ns, hosts)
      assert.lengthOf(filesUnder(dataDir), 32)
    })
  )

  it(
    "exhaustion of a /30: two ADDs succeed, the third gets 100 and leaves no route or record",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = netConf("1.0.0", dataDir, { subnet: "100.64.0.0/30" })
      const first = (await add(sandbox, "c1", conf)).map(hostOf)
      const second = (await add(sandbox, "c2", conf)).map(hostOf)
      assert.deepStrictEqual([...first, ...second].sort(), ["100.64.0.1", "100.64.0.2"])
      const third = await runPlugin(ns, attachmentEnv(ns, "ADD", "c3"), conf)
      const error = assertCniError(third, 100)
      assert.strictEqual(error.cniVersion, "1.0.0")
      await assertOurRoutes(ns, ["100.64.0.1", "100.64.0.2"])
      assertRecords(dataDir, { c1: first, c2: second })
    })
  )

  it(
    "DEL twice (both exit 0), and DEL of an unknown container",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = netConf("0.4.0", dataDir, { subnet: "100.64.0.0/24" })
      const ips = await add(sandbox, "c1", conf)
      const withPrev = { ...conf, prevResult: { cniVersion: "0.4.0", ips } }
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c1"), withPrev))
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c1"), withPrev))
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "never-added"), conf))
      await assertOurRoutes(ns, [])
      assert.deepStrictEqual(filesUnder(dataDir), [])
    })
  )

  it(
    "DEL without prevResult (and without CNI_NETNS) releases the container's addresses only",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const conf = netConf("1.0.0", dataDir, { ranges: [[v4Range], [v6Range]] })
      const gone = (await add(sandbox, "c1", conf)).map(hostOf)
      const kept = (await add(sandbox, "c2", conf)).map(hostOf)
      assert.notDeepEqual(gone, kept)
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c1", { CNI_NETNS: "" }), conf))
      await assertOurRoutes(ns, kept)
      assertRecords(dataDir, { c2: kept })
    })
  )

  it(
    "the original CNI_ARGS interface with empty stdin: CIDR + EXCLUDE_FIRST + LINK_INDEX, and an exact CIDR",
    inSandbox(async ({ ns, dataDir }) => {
      const legacy = (command: "ADD" | "DEL", id: string, args: string) =>
        runPluginWithDefaultDataDir(ns, attachmentEnv(ns, command, id, { CNI_ARGS: args }), "", dataDir)
      const picked = assertAdded(
        await legacy("ADD", "c1", "CIDR=100.64.0.0/24;EXCLUDE_FIRST=10;LINK_INDEX=1"),
        "0.4.0"
      )
      assert.lengthOf(picked, 1)
      assert.strictEqual(picked[0]!.version, "4")
      assert.match(picked[0]!.address, /^100\.64\.0\.\d+\/24$/)
      assert.isAtLeast(lastOctet(hostOf(picked[0]!)), 10, "EXCLUDE_FIRST=10 keeps .0-.9 out")
      const exact = assertAdded(await legacy("ADD", "c2", "CIDR=100.64.0.77/24"), "0.4.0")
      assert.deepStrictEqual(
        exact.map((ip) => [ip.version, ip.address]),
        [["4", "100.64.0.77/24"]]
      )
      await assertOurRoutes(ns, [hostOf(picked[0]!), "100.64.0.77"])
      assert.lengthOf(
        filesUnder(dataDir),
        2,
        `records land in the default dataDir: ${filesUnder(dataDir).join(", ")}`
      )

      assertQuietSuccess(await legacy("DEL", "c2", "CIDR=100.64.0.77/24"))
      await assertOurRoutes(ns, [hostOf(picked[0]!)])
      assert.lengthOf(filesUnder(dataDir), 1)
    })
  )

  it(
    "the original CNI_ARGS interface honours EXCLUDE_FIRST/EXCLUDE_LAST over a whole /28",
    inSandbox(async ({ ns, dataDir }) => {
      // the original (iputil.RandAddrWithExclude) picks from [network + 10, broadcast - 3) = .10-.11 of a /28
      const args = "CIDR=100.64.0.0/28;EXCLUDE_FIRST=10;EXCLUDE_LAST=3"
      const legacy = (id: string) =>
        runPluginWithDefaultDataDir(ns, attachmentEnv(ns, "ADD", id, { CNI_ARGS: args }), "", dataDir)
      const got: Array<string> = []
      for (let i = 0; i < 2; i++) got.push(...assertAdded(await legacy(`c${i}`), "0.4.0").map(hostOf))
      assert.deepStrictEqual([...got].sort(), ["100.64.0.10", "100.64.0.11"])
      assertCniError(await legacy("c-extra"), 100)
      await assertOurRoutes(ns, got)
    })
  )

  it(
    "bad input leaves nothing behind: bad JSON -> 6, container ID ../x -> 4, unknown version -> 1, unknown CNI_ARGS -> 4",
    inSandbox(async ({ ns, dataDir }) => {
      const conf = netConf("1.0.0", dataDir, { subnet: "100.64.0.0/24" })
      const badJson = await runPlugin(ns, attachmentEnv(ns, "ADD", "c1"), JSON.stringify(conf).slice(0, -3))
      assertCniError(badJson, 6)
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", "../x"), conf), 4)
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "DEL", "../x"), conf), 4)
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", "c1"), { ...conf, cniVersion: "9.9.9" }), 1)
      assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", "c1", { CNI_ARGS: "FOO=bar" }), conf), 4)
      assertCniError(
        await runPlugin(ns, { CNI_COMMAND: "ADD", CNI_IFNAME: "eth0", CNI_NETNS: ns.path }, conf),
        4
      )
      assert.deepStrictEqual(filesUnder(dataDir), [])
      await assertOurRoutes(ns, [])
    })
  )
})
