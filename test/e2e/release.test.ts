// `release --ip` and `list --ip` / totals / --prometheus (built) in a private namespace: what is freed, what is refused, who holds an address.
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, it } from "@effect/vitest"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
  assertPluginBuilt,
  attachmentEnv,
  hostOf,
  nodeBinary,
  pluginFile,
  runPlugin
} from "./support/BuiltPlugin.ts"
import { inSandbox, type Sandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

const conf = (dataDir: string) => ({
  cniVersion: "1.0.0",
  name: "pods",
  type: "routetable-ipam",
  ipam: {
    type: "routetable-ipam",
    dataDir,
    ranges: [[{ subnet: "100.64.0.0/24" }]],
    propagationTimeout: "20ms"
  }
})

const cli = ({ ns }: Sandbox, args: ReadonlyArray<string>) =>
  ns.exec(nodeBinary, [pluginFile, ...args], { timeoutMs: 30_000 })

/** Our routes (protocol 192) in the namespace's main table, by address. */
const ourRoutes = async ({ ns }: Sandbox): Promise<ReadonlyArray<string>> =>
  (await ns.run("ip", ["-4", "route", "show", "proto", "192"]))
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.split(" ")[0]!)
    .sort()

/** A network with two containers (c1, c2), an orphan route of ours, and another node's route via 198.18.0.2. */
const setup = async (sandbox: Sandbox) => {
  const { ns, dataDir } = sandbox
  const config = conf(dataDir)
  const file = path.join(dataDir, "10-pods.conf")
  writeFileSync(file, JSON.stringify(config))
  const add = async (id: string) =>
    hostOf(assertAdded(await runPlugin(ns, attachmentEnv(ns, "ADD", id), config), "1.0.0")[0]!)
  const c1 = await add("c1")
  const c2 = await add("c2")
  const spare = ["100.64.0.77", "100.64.0.78", "100.64.0.79"].filter((a) => a !== c1 && a !== c2)
  const [orphan, learned] = spare as [string, string]
  await ns.run("ip", ["link", "add", "up0", "type", "veth", "peer", "name", "up1"])
  await ns.run("ip", ["link", "set", "up0", "up"])
  await ns.run("ip", ["link", "set", "up1", "up"])
  await ns.run("ip", ["addr", "add", "198.18.0.1/24", "dev", "up0"])
  await ns.run("ip", ["route", "add", `${orphan}/32`, "dev", "lo", "proto", "192", "metric", "4096"])
  await ns.run("ip", ["route", "add", `${learned}/32`, "via", "198.18.0.2", "proto", "12", "metric", "32"])
  return { file, c1, c2, orphan, learned }
}

suite("routetable-ipam release and list --ip (built) on a real kernel", () => {
  beforeAll(assertPluginBuilt)

  it(
    "frees an orphan; refuses a live owner's address unless --force; never touches a learned route; --dry-run changes nothing",
    inSandbox(async (sandbox) => {
      const { file, c1, c2, orphan, learned } = await setup(sandbox)
      const before = await ourRoutes(sandbox)
      assert.deepStrictEqual(before, [c1, c2, orphan].sort())

      const dry = await cli(sandbox, ["release", "--config", file, "--ip", orphan, "--dry-run"])
      assert.strictEqual(dry.code, 0, dry.stderr)
      assert.include(dry.stdout, `would release ${orphan}: a route of ours that no owner record names`)
      assert.deepStrictEqual(await ourRoutes(sandbox), before, "a dry run changes nothing")

      const freed = await cli(sandbox, ["release", "--config", file, "--ip", orphan])
      assert.strictEqual(freed.code, 0, freed.stderr)
      assert.include(freed.stdout, `released ${orphan}: deleted our route`)
      assert.deepStrictEqual(await ourRoutes(sandbox), [c1, c2].sort())

      // negative control: a live container's address is refused and stays
      const owned = await cli(sandbox, ["release", "--config", file, "--ip", c1])
      assert.strictEqual(owned.code, 1)
      assert.include(owned.stderr, `refused: ${c1} is held by pods/c1/eth0`)
      assert.deepStrictEqual(await ourRoutes(sandbox), [c1, c2].sort())

      const forced = JSON.parse(
        (await cli(sandbox, ["release", "--config", file, "--ip", c1, "--force", "--json"])).stdout
      ) as Record<string, unknown>
      assert.strictEqual(forced.decision, "ReleaseForOwner")
      assert.strictEqual(forced.released, true)
      assert.deepStrictEqual(forced.owner, { containerId: "c1", ifname: "eth0" })
      assert.strictEqual(forced.record, "removed")
      assert.strictEqual(forced.address, c1)
      assert.strictEqual(forced.network, "pods")
      assert.isFalse(forced.dryRun)
      assert.deepStrictEqual(await ourRoutes(sandbox), [c2])
      // the record is gone with it: c1's address is no longer "missing" in list
      const listed = JSON.parse((await cli(sandbox, ["list", "--config", file, "--json"])).stdout) as {
        summary: Record<string, number>
      }
      assert.strictEqual(listed.summary.missing, 0)

      const other = await cli(sandbox, ["release", "--config", file, "--ip", learned, "--force"])
      assert.strictEqual(other.code, 0, other.stderr)
      assert.include(other.stdout, "nothing to release")
      const stillThere = await sandbox.ns.run("ip", ["-4", "route", "show", `${learned}/32`])
      assert.include(stillThere, "via 198.18.0.2")

      const outside = await cli(sandbox, ["release", "--config", file, "--ip", "100.64.9.9"])
      assert.strictEqual(outside.code, 1)
      assert.include(outside.stderr, "outside network pods")
      const bad = await cli(sandbox, ["release", "--config", file, "--ip", "nonsense"])
      assert.strictEqual(bad.code, 2)
    })
  )

  it(
    "list --ip answers who holds one address; list prints totals; --prometheus writes the textfile format",
    inSandbox(async (sandbox) => {
      const { file, c1, orphan, learned } = await setup(sandbox)
      const mine = await cli(sandbox, ["list", "--config", file, "--ip", c1])
      assert.strictEqual(mine.code, 0, mine.stderr)
      assert.include(mine.stdout, `${c1}: held by this node`)
      assert.include(mine.stdout, "owner:    pods/c1/eth0")
      const theirs = JSON.parse(
        (await cli(sandbox, ["list", "--config", file, "--ip", learned, "--json"])).stdout
      ) as Record<string, unknown>
      assert.strictEqual(theirs.heldBy, "another node")
      assert.deepStrictEqual(theirs.pools, ["100.64.0.0/24"])
      assert.deepStrictEqual(theirs.owner, null)
      assert.deepStrictEqual(
        (theirs.routes as ReadonlyArray<Record<string, unknown>>).map((r) => [r.origin, r.nextHop, r.device]),
        [["learned", "198.18.0.2", "up0"]]
      )
      const free = await cli(sandbox, ["list", "--config", file, "--ip", "100.64.0.200"])
      assert.include(free.stdout, "100.64.0.200: held by nobody")

      const table = await cli(sandbox, ["list", "--config", file])
      assert.strictEqual(table.code, 0, table.stderr)
      // 254 allocatable; here: c1, c2 and the orphan; elsewhere: the learned one
      assert.match(table.stdout, /\n100\.64\.0\.0\/24 +254 +3 +1 +250 +98\.4\n/)
      assert.match(table.stdout, /\nthis node +eigrp \(192\) +3\n198\.18\.0\.2 +bird \(12\) +1$/m)

      const metrics = await cli(sandbox, ["list", "--config", file, "--prometheus"])
      assert.strictEqual(metrics.code, 0, metrics.stderr)
      for (const line of [
        'routetable_ipam_pool_addresses{network="pods",pool="100.64.0.0/24"} 254',
        'routetable_ipam_pool_addresses_in_use{network="pods",pool="100.64.0.0/24",where="here"} 3',
        'routetable_ipam_pool_addresses_in_use{network="pods",pool="100.64.0.0/24",where="elsewhere"} 1',
        'routetable_ipam_node_addresses_in_use{network="pods",node="198.18.0.2",node_name=""} 1',
        'routetable_ipam_orphans{network="pods"} 1',
        'routetable_ipam_conflicts{network="pods"} 0'
      ])
        assert.include(metrics.stdout.split("\n"), line)
      assert.notInclude(metrics.stdout, "fabric", "no fabric health configured")
      assert.isDefined(orphan)

      // with fabric health configured, the probe's answer is part of the metrics (here BIRD is absent)
      const withHealth = path.join(sandbox.dataDir, "20-health.conf")
      const healthConf = conf(sandbox.dataDir)
      writeFileSync(
        withHealth,
        JSON.stringify({
          ...healthConf,
          ipam: { ...healthConf.ipam, fabricHealth: { type: "bird", socket: "/nonexistent/bird.ctl" } }
        })
      )
      const probed = await cli(sandbox, ["list", "--config", withHealth, "--prometheus"])
      assert.strictEqual(probed.code, 0, probed.stderr)
      assert.include(probed.stdout.split("\n"), 'routetable_ipam_fabric_probe_ok{network="pods"} 0')
    })
  )
})
