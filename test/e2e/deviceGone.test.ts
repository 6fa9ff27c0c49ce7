// The built plugin when `ipam.device` is gone (`ip link del`) or not there yet: only ADD needs it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
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
  nodeBinary,
  pluginFile,
  runPlugin
} from "./support/BuiltPlugin.ts"
import { assertOurRoutes, ourRoutes } from "./support/KernelRoutes.ts"
import { filesUnder } from "./support/PluginConfig.ts"
import { inSandbox, type Sandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

const network = "gone"

const v4 = [{ subnet: "100.64.0.0/24" }]
const v6 = [{ subnet: "fd00:64::/120" }]

/** The network config the plugin gets: host routes pointing at `pod0`; IPv4 and IPv6 unless `ranges` says. */
const confOf = (
  dataDir: string,
  extra?: Readonly<Record<string, unknown>>,
  ranges: ReadonlyArray<ReadonlyArray<{ subnet: string }>> = [v4, v6]
) => ({
  cniVersion: "1.1.0",
  name: network,
  type: "bridge",
  ...extra,
  ipam: { type: "routetable-ipam", dataDir, ranges, device: "pod0", propagationTimeout: "20ms" }
})

/** The record files of the network, by container ID. */
const recordOwners = (dataDir: string): ReadonlyArray<string> =>
  filesUnder(dataDir)
    .map((file) => path.basename(file))
    .map((name) => name.slice(0, name.indexOf("@")))
    .sort()

/** Run an operator command (`gc`, `list`) of the built executable in the sandbox's namespace. */
const operator = async ({ ns }: Sandbox, args: ReadonlyArray<string>) => {
  const run = await ns.exec(nodeBinary, [pluginFile, ...args], { timeoutMs: 30_000 })
  assert.strictEqual(run.code, 0, `${args.join(" ")}: exit ${run.code}: ${run.stdout} ${run.stderr}`)
  return JSON.parse(run.stdout) as Record<string, unknown>
}

/** A sandbox plus a directory holding the network's config file, for the operator commands. */
const withConfigFile = (body: (sandbox: Sandbox, configFile: string) => Promise<void>) =>
  inSandbox(async (sandbox) => {
    const confDir = mkdtempSync(path.join(tmpdir(), "rtipam-e2e-devgone-"))
    try {
      const configFile = path.join(confDir, "10-gone.conf")
      writeFileSync(configFile, JSON.stringify(confOf(sandbox.dataDir)))
      await body(sandbox, configFile)
    } finally {
      rmSync(confDir, { recursive: true, force: true })
    }
  })

/**
 * ADD with a device that does not exist: 7 naming ipam.device, no route and no record left.
 * One family per ADD: with two pools, the pool that fails first interrupts the other one's
 * record write, which leaves a `.tmp-*` file (a record-store defect, reported separately).
 */
const assertAddRefused = async (sandbox: Sandbox, containerId: string): Promise<void> => {
  const { ns, dataDir } = sandbox
  for (const ranges of [[v4], [v6]]) {
    const routesBefore = await ourRoutes(ns)
    const recordsBefore = filesUnder(dataDir)
    const run = await runPlugin(ns, attachmentEnv(ns, "ADD", containerId), confOf(dataDir, {}, ranges))
    const error = assertCniError(run, 7)
    assert.match(String(error.msg), /^ipam\.device: .*pod0/, describeRun(run))
    assert.deepStrictEqual(await ourRoutes(ns), routesBefore, "a refused ADD leaves no route")
    assert.deepStrictEqual(filesUnder(dataDir), recordsBefore, "a refused ADD leaves no file")
  }
}

suite("ipam.device gone or not there yet (built plugin, real kernel)", () => {
  beforeAll(assertPluginBuilt)

  it(
    "after `ip link del` of the device: STATUS 0, DEL, CNI GC, gc and list work; ADD answers 7 and leaves nothing",
    withConfigFile(async (sandbox, configFile) => {
      const { ns, dataDir } = sandbox
      await ns.run("sh", ["-c", "ip link add pod0 type veth peer name podpeer0 && ip link set pod0 up"])
      const added: Record<string, ReadonlyArray<string>> = {}
      for (const id of ["c1", "c2", "c3"]) {
        const run = await runPlugin(ns, attachmentEnv(ns, "ADD", id), confOf(dataDir))
        added[id] = assertAdded(run, "1.1.0").map(hostOf)
      }
      await assertOurRoutes(ns, Object.values(added).flat(), "pod0")
      assert.deepStrictEqual(recordOwners(dataDir), ["c1", "c2", "c3"])

      await ns.run("ip", ["link", "del", "pod0"])
      // the kernel took our routes with the device; the records remain
      assert.deepStrictEqual(await ourRoutes(ns), [])

      assertQuietSuccess(await runPlugin(ns, { CNI_COMMAND: "STATUS" }, confOf(dataDir)))

      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c1"), confOf(dataDir)))
      assert.deepStrictEqual(recordOwners(dataDir), ["c2", "c3"])
      // DEL is idempotent here too
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c1"), confOf(dataDir)))

      const gcConf = confOf(dataDir, { "cni.dev/valid-attachments": [{ containerID: "c2", ifname: "eth0" }] })
      assertQuietSuccess(await runPlugin(ns, { CNI_COMMAND: "GC" }, gcConf))
      assert.deepStrictEqual(recordOwners(dataDir), ["c2"])

      // an orphan of ours (through lo): the operator's gc releases it without the device
      await ns.run("ip", ["route", "add", "100.64.0.250/32", "dev", "lo", "proto", "192", "metric", "4096"])
      const gc = await operator(sandbox, ["gc", "--config", configFile, "--network", network, "--json"])
      assert.deepStrictEqual(gc.errors, [])
      assert.deepStrictEqual((gc.released as { routes: ReadonlyArray<string> }).routes, ["100.64.0.250"])
      assert.deepStrictEqual(await ourRoutes(ns), [])
      assert.deepStrictEqual(recordOwners(dataDir), ["c2"])

      const list = await operator(sandbox, ["list", "--config", configFile, "--json"])
      const claims = list.claims as ReadonlyArray<{ address: string; problems: ReadonlyArray<string> }>
      // c2's record names its addresses; their routes went with the device
      assert.deepStrictEqual(claims.map((claim) => claim.address).sort(), [...(added.c2 ?? [])].sort())
      for (const claim of claims) assert.include(claim.problems, "missing", JSON.stringify(claim))

      await assertAddRefused(sandbox, "c4")
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c2"), confOf(dataDir)))
      assert.deepStrictEqual(recordOwners(dataDir), [])

      // negative control: with the device back, the same ADD succeeds
      await ns.run("sh", ["-c", "ip link add pod0 type veth peer name podpeer0 && ip link set pod0 up"])
      const again = assertAdded(
        await runPlugin(ns, attachmentEnv(ns, "ADD", "c4"), confOf(dataDir)),
        "1.1.0"
      ).map(hostOf)
      await assertOurRoutes(ns, again, "pod0")
    })
  )

  it(
    "a fresh node without the device: STATUS 0, list and gc work, ADD answers 7 and leaves nothing",
    withConfigFile(async (sandbox, configFile) => {
      const { ns, dataDir } = sandbox
      assertQuietSuccess(await runPlugin(ns, { CNI_COMMAND: "STATUS" }, confOf(dataDir)))
      const list = await operator(sandbox, ["list", "--config", configFile, "--json"])
      assert.deepStrictEqual(list.claims, [])
      const gc = await operator(sandbox, ["gc", "--config", configFile, "--network", network, "--json"])
      assert.deepStrictEqual(gc.errors, [])
      await assertAddRefused(sandbox, "c1")
      assert.deepStrictEqual(filesUnder(dataDir), [])
    })
  )
})
