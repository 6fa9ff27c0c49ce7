// `routetable-ipam gc` (built) in a private namespace: orphans and crashed ADDs go, everything else stays.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
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
import { routesIn } from "./support/KernelRoutes.ts"
import { filesUnder } from "./support/PluginConfig.ts"
import { inSandbox, type Sandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

/**
 * A .conflist delegating IPAM to us. The plugin never picks inside `exclude`, so the test's own
 * routes there (orphans, a crashed ADD's claim) cannot collide with an ADD; they are still inside
 * the ranges, so gc counts them as the network's.
 */
const conflist = (dataDir: string, name: string, v4: string, v6: string, exclude: ReadonlyArray<string>) => ({
  cniVersion: "1.0.0",
  name,
  plugins: [
    {
      type: "bridge",
      bridge: "cni0",
      ipam: {
        type: "routetable-ipam",
        dataDir,
        ranges: [[{ subnet: v4 }], [{ subnet: v6 }]],
        exclude,
        propagationTimeout: "20ms"
      }
    }
  ]
})

const pluginConf = (list: ReturnType<typeof conflist>) => ({
  ...list.plugins[0],
  cniVersion: list.cniVersion,
  name: list.name
})

interface GcJson {
  readonly network: string
  readonly dryRun: boolean
  readonly released: {
    readonly attachments: ReadonlyArray<{
      readonly containerId: string
      readonly ifname: string
      readonly addresses: ReadonlyArray<string>
      readonly pending: ReadonlyArray<string>
    }>
    readonly routes: ReadonlyArray<string>
    readonly forgotten: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>
  }
  readonly kept: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>
  readonly recent: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>
  readonly errors: ReadonlyArray<string>
}

/** Every route of the namespace (both families, all tables) as one sorted list of lines. */
const tableOf = async ({ ns }: Sandbox): Promise<ReadonlyArray<string>> =>
  [...(await routesIn(ns, 4)), ...(await routesIn(ns, 6))].map((r) => JSON.stringify(r)).sort()

/** Hosts (dst) with protocol 192 in the namespace, sorted. */
const ourHosts = async ({ ns }: Sandbox): Promise<ReadonlyArray<string>> =>
  [...(await routesIn(ns, 4)), ...(await routesIn(ns, 6))]
    .filter((r) => r.protocol === "192")
    .map((r) => r.dst)
    .sort()

/** Every record file with its content, for "unchanged" checks. */
const recordsOf = (dataDir: string): ReadonlyArray<string> =>
  filesUnder(dataDir).map((file) => `${file}: ${readFileSync(path.join(dataDir, file), "utf8")}`)

/** The world gc runs against: two networks with ADDs, and the debris a node accumulates. */
const setUp = async (sandbox: Sandbox, netDir: string) => {
  const { ns, dataDir } = sandbox
  const pods = conflist(dataDir, "pods", "100.64.0.0/24", "fd00:64::/120", [
    "100.64.0.64/26",
    "fd00:64::40/122"
  ])
  const other = conflist(dataDir, "other", "100.64.5.0/24", "fd00:65::/120", ["100.64.5.64/26"])
  writeFileSync(path.join(netDir, "10-pods.conflist"), JSON.stringify(pods))
  writeFileSync(path.join(netDir, "20-other.conflist"), JSON.stringify(other))
  const add = async (conf: object, id: string) =>
    (await runPlugin(ns, attachmentEnv(ns, "ADD", id), conf).then((run) => assertAdded(run, "1.0.0"))).map(
      hostOf
    )
  const c1 = await add(pluginConf(pods), "c1")
  const c2 = await add(pluginConf(pods), "c2")
  const o1 = await add(pluginConf(other), "o1")
  const route = (host: string, ...rest: ReadonlyArray<string>) =>
    ns.run("ip", ["route", "add", host.includes(":") ? `${host}/128` : `${host}/32`, "dev", "lo", ...rest])
  const ours = ["proto", "192", "metric", "4096"]
  // a route of ours nobody owns (the record was lost)
  await route("100.64.0.99", ...ours)
  // an ADD that crashed 10 minutes ago after claiming: its record still lists the addresses as pending
  await route("100.64.0.77", ...ours)
  await route("fd00:64::77", ...ours)
  const crashedFile = path.join(dataDir, "pods", "crashed@eth0.json")
  writeFileSync(
    crashedFile,
    `${JSON.stringify({ containerId: "crashed", ifname: "eth0", network: "pods", addresses: [], pending: ["100.64.0.77", "fd00:64::77"], writtenAt: Date.now() - 600_000 })}\n`
  )
  // an ADD in progress right now (its record was just written): gc must leave it alone
  await route("100.64.0.78", ...ours)
  writeFileSync(
    path.join(dataDir, "pods", "adding@eth0.json"),
    `${JSON.stringify({ containerId: "adding", ifname: "eth0", network: "pods", addresses: [], pending: ["100.64.0.78"], writtenAt: Date.now() })}\n`
  )
  // another protocol in the range, and an orphan of ours in the other network
  await route("100.64.0.98", "proto", "12", "metric", "32")
  await route("100.64.5.99", ...ours)
  return { c1, c2, o1 }
}

suite("routetable-ipam gc (built) on a real kernel", () => {
  beforeAll(assertPluginBuilt)

  const withNetDir = (body: (sandbox: Sandbox, netDir: string) => Promise<void>) =>
    inSandbox(async (sandbox) => {
      const netDir = mkdtempSync(path.join(tmpdir(), "rtipam-e2e-netd-"))
      try {
        await body(sandbox, netDir)
      } finally {
        rmSync(netDir, { recursive: true, force: true })
      }
    })

  const gc = async ({ ns }: Sandbox, args: ReadonlyArray<string>) =>
    ns.exec(nodeBinary, [pluginFile, "gc", ...args], { timeoutMs: 30_000 })

  const gcJson = async (sandbox: Sandbox, args: ReadonlyArray<string>): Promise<GcJson> => {
    const run = await gc(sandbox, [...args, "--json"])
    assert.strictEqual(run.code, 0, `gc ${args.join(" ")}: ${run.stderr}`)
    return JSON.parse(run.stdout) as GcJson
  }

  it(
    "--dry-run reports the orphan and the crashed ADD and changes nothing; gc then releases exactly those",
    withNetDir(async (sandbox, netDir) => {
      const { dataDir } = sandbox
      const { c1, c2, o1 } = await setUp(sandbox, netDir)
      const tableBefore = await tableOf(sandbox)
      const recordsBefore = recordsOf(dataDir)
      const args = ["--config", netDir, "--network", "pods"]

      const planned = await gcJson(sandbox, [...args, "--dry-run"])
      assert.deepStrictEqual(await tableOf(sandbox), tableBefore, "a dry run changes no route")
      assert.deepStrictEqual(recordsOf(dataDir), recordsBefore, "a dry run changes no record")
      assert.isTrue(planned.dryRun)
      assert.deepStrictEqual(planned.released, {
        attachments: [
          { containerId: "crashed", ifname: "eth0", addresses: [], pending: ["100.64.0.77", "fd00:64::77"] }
        ],
        routes: ["100.64.0.99"],
        forgotten: []
      })
      assert.deepStrictEqual(planned.recent, [{ containerId: "adding", ifname: "eth0" }])

      const done = await gcJson(sandbox, args)
      assert.deepStrictEqual({ ...done, dryRun: true }, planned, "gc did what the dry run said")
      assert.isFalse(done.dryRun)
      assert.deepStrictEqual(done.errors, [])
      assert.deepStrictEqual(done.kept.map((o) => o.containerId).sort(), ["c1", "c2"])
      const gone = ["100.64.0.99", "100.64.0.77", "fd00:64::77"].map((dst) => `"dst":"${dst}"`)
      assert.deepStrictEqual(
        await tableOf(sandbox),
        tableBefore.filter((line) => !gone.some((g) => line.includes(g))),
        "only the orphan's and the crashed ADD's routes went"
      )
      assert.deepStrictEqual(
        await ourHosts(sandbox),
        [...c1, ...c2, ...o1, "100.64.0.78", "100.64.5.99"].sort(),
        "the ADDs, the ADD in progress and the other network's orphan are still there"
      )
      assert.deepStrictEqual(
        recordsOf(dataDir),
        recordsBefore.filter((r) => !r.startsWith("pods/crashed@eth0.json")),
        "only the crashed ADD's record went"
      )

      const again = await gc(sandbox, args)
      assert.strictEqual(again.code, 0, again.stderr)
      assert.include(again.stdout, "nothing to release")
      assert.include(again.stdout, "kept as too recent (within the grace period): adding/eth0")
    })
  )

  it(
    "--keep releases every other record of the network (with its routes); the other network is untouched",
    withNetDir(async (sandbox, netDir) => {
      const { dataDir } = sandbox
      const { c1, o1 } = await setUp(sandbox, netDir)
      const otherRecords = recordsOf(dataDir).filter((r) => r.startsWith("other/"))
      const done = await gcJson(sandbox, [
        "--config",
        netDir,
        "--network",
        "pods",
        "--keep",
        "c1/eth0",
        "--grace",
        "0"
      ])
      assert.deepStrictEqual(
        done.released.attachments.map((a) => a.containerId),
        ["adding", "c2", "crashed"],
        "every record but c1's, the ADD in progress too (no grace)"
      )
      assert.deepStrictEqual(done.released.routes, ["100.64.0.99"])
      assert.deepStrictEqual(done.kept, [{ containerId: "c1", ifname: "eth0" }])
      assert.deepStrictEqual(done.errors, [])
      assert.deepStrictEqual(await ourHosts(sandbox), [...c1, ...o1, "100.64.5.99"].sort())
      assert.deepStrictEqual(
        filesUnder(dataDir),
        ["other/o1@eth0.json", "pods/c1@eth0.json"],
        "records: c1's and the other network's"
      )
      assert.deepStrictEqual(
        recordsOf(dataDir).filter((r) => r.startsWith("other/")),
        otherRecords
      )
      const kept = (await routesIn(sandbox.ns, 4)).filter((r) => r.dst === "100.64.0.98")
      assert.deepStrictEqual(
        kept.map((r) => r.protocol),
        ["12"],
        "the route of another protocol stays"
      )
    })
  )

  it(
    "usage errors exit 2; several networks without --network exit 1; text output names what went",
    withNetDir(async (sandbox, netDir) => {
      await setUp(sandbox, netDir)
      const usage = await gc(sandbox, ["--config", netDir, "--keep", "no-interface"])
      assert.strictEqual(usage.code, 2, usage.stderr)
      assert.include(usage.stderr, "--keep")
      const ambiguous = await gc(sandbox, ["--config", netDir, "--dry-run"])
      assert.strictEqual(ambiguous.code, 1, ambiguous.stderr)
      assert.include(ambiguous.stderr, "pick one with --network")
      const text = await gc(sandbox, ["--config", path.join(netDir, "10-pods.conflist")])
      assert.strictEqual(text.code, 0, text.stderr)
      assert.include(
        text.stdout,
        "released attachment crashed/eth0: 100.64.0.77 (pending), fd00:64::77 (pending)"
      )
      assert.include(text.stdout, "released route 100.64.0.99 (no owner record)")
      const help = await gc(sandbox, ["--help"])
      assert.strictEqual(help.code, 0)
      assert.include(help.stdout, "routetable-ipam gc [flags]")
    })
  )
})
