// Migrating from the Go plugin (built) in a private namespace: legacy routes in list, never handed out, never collected; migrate, --dry-run, --remove, and a crash midway.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, it } from "@effect/vitest"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
  assertCniError,
  assertPluginBuilt,
  assertQuietSuccess,
  attachmentEnv,
  hostOf,
  nodeBinary,
  pluginFile,
  runPlugin
} from "./support/BuiltPlugin.ts"
import { inSandbox, type Sandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

const conf = (dataDir: string, range?: { readonly rangeStart: string; readonly rangeEnd: string }) => ({
  cniVersion: "1.0.0",
  name: "pods",
  type: "bridge",
  ipam: {
    type: "routetable-ipam",
    dataDir,
    ranges: [[{ subnet: "100.64.0.0/24", ...range }], [{ subnet: "fd00:64::/120" }]],
    propagationTimeout: "20ms"
  }
})

const cli = ({ ns }: Sandbox, args: ReadonlyArray<string>, env?: Readonly<Record<string, string>>) =>
  ns.exec(nodeBinary, [pluginFile, ...args], { timeoutMs: 30_000, ...(env === undefined ? {} : { env }) })

/** Every route of protocol 192 as "address device metric", both families, sorted. */
const protocol192 = async ({ ns }: Sandbox): Promise<ReadonlyArray<string>> => {
  const read = async (family: "-4" | "-6") =>
    (
      JSON.parse(await ns.run("ip", ["-j", family, "route", "show", "proto", "192"])) as ReadonlyArray<{
        dst: string
        dev: string
        metric?: number
      }>
    ).map((r) => `${r.dst} ${r.dev} ${r.metric ?? 0}`)
  return [...(await read("-4")), ...(await read("-6"))].sort()
}

/** A libcni cache entry (cniCacheV1) as containerd or podman writes it after ADD. */
const cacheEntry = (containerId: string, addresses: ReadonlyArray<string>) => ({
  kind: "cniCacheV1",
  containerId,
  config: Buffer.from('{"cniVersion":"0.4.0","name":"pods","type":"bridge"}').toString("base64"),
  ifName: "eth0",
  networkName: "pods",
  netns: "/var/run/netns/cni-1234",
  cniArgs: [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", "shop"],
    ["K8S_POD_NAME", `web-${containerId}`]
  ],
  result: {
    cniVersion: "0.4.0",
    interfaces: [{ name: "eth0", mac: "ea:a8:70:cd:18:62", sandbox: "/var/run/netns/cni-1234" }],
    ips: addresses.map((address) => ({
      version: address.includes(":") ? "6" : "4",
      interface: 0,
      address: address.includes(":") ? `${address}/120` : `${address}/24`
    })),
    dns: {}
  }
})

/**
 * The Go plugin's leftovers on this node: c1 (100.64.0.5 and fd00:64::5) and c2 (100.64.0.6),
 * both in the runtime's cache, and 100.64.0.7, whose container nobody knows. Its routes point at
 * the containers' bridge (br0), IPv4 with metric 0 and scope global as vishvananda/netlink
 * inserts them, IPv6 with the kernel's default metric 1024.
 */
const setup = async (sandbox: Sandbox) => {
  const { ns, dataDir } = sandbox
  const file = path.join(dataDir, "10-pods.conf")
  writeFileSync(file, JSON.stringify(conf(dataDir)))
  const cacheDir = path.join(dataDir, "cni-results")
  mkdirSync(cacheDir)
  writeFileSync(
    path.join(cacheDir, "pods-c1-eth0"),
    JSON.stringify(cacheEntry("c1", ["100.64.0.5", "fd00:64::5"]))
  )
  writeFileSync(path.join(cacheDir, "pods-c2-eth0"), JSON.stringify(cacheEntry("c2", ["100.64.0.6"])))
  writeFileSync(path.join(cacheDir, "pods-old-eth0"), '{"cniVersion":"0.3.1","ips":[]}') // pre-cniCacheV1
  await ns.run("ip", ["link", "add", "br0", "type", "veth", "peer", "name", "br0p"])
  await ns.run("ip", ["link", "set", "br0", "up"])
  await ns.run("ip", ["link", "set", "br0p", "up"])
  for (const address of ["100.64.0.5", "100.64.0.6", "100.64.0.7"])
    await ns.run("ip", [
      "route",
      "add",
      `${address}/32`,
      "dev",
      "br0",
      "proto",
      "192",
      "metric",
      "0",
      "scope",
      "global"
    ])
  await ns.run("ip", ["-6", "route", "add", "fd00:64::5/128", "dev", "br0", "proto", "192"])
  return { file, cacheDir }
}

const legacyRoutes = ["100.64.0.5 br0 0", "100.64.0.6 br0 0", "100.64.0.7 br0 0", "fd00:64::5 br0 1024"]

interface Step {
  readonly address: string
  readonly action: string
  readonly reason: string | null
  readonly owner: Record<string, unknown> | null
  readonly device: string | null
  readonly done: boolean
  readonly note: string | null
  readonly error: string | null
  readonly message: string
}
interface Migrated {
  readonly network: string
  readonly mode: string
  readonly dryRun: boolean
  readonly cniCacheDir: string
  readonly cacheMissing: boolean
  readonly unreadableCacheEntries: ReadonlyArray<{ readonly file: string; readonly reason: string }>
  readonly steps: ReadonlyArray<Step>
  readonly summary: Record<string, number>
}

const migrateJson = async (sandbox: Sandbox, args: ReadonlyArray<string>): Promise<Migrated> => {
  const run = await cli(sandbox, ["migrate", ...args, "--json"])
  assert.strictEqual(run.code, 0, run.stderr)
  return JSON.parse(run.stdout) as Migrated
}

const records = (dataDir: string) =>
  readdirSync(path.join(dataDir, "pods"))
    .filter((name) => name.endsWith(".json") && !name.startsWith("."))
    .sort()
    .map(
      (name) => JSON.parse(readFileSync(path.join(dataDir, "pods", name), "utf8")) as Record<string, unknown>
    )

suite("routetable-ipam migrate (built) on a real kernel", () => {
  beforeAll(assertPluginBuilt)

  it(
    "list shows the Go plugin's routes as legacy (table, --json, --ip, --prometheus); gc never releases them",
    inSandbox(async (sandbox) => {
      const { file } = await setup(sandbox)
      // an orphan of ours beside them: the negative control for gc
      await sandbox.ns.run("ip", [
        "route",
        "add",
        "100.64.0.77/32",
        "dev",
        "lo",
        "proto",
        "192",
        "metric",
        "4096"
      ])
      const table = await cli(sandbox, ["list", "--config", file])
      assert.strictEqual(table.code, 0, table.stderr)
      assert.match(table.stdout, /\n100\.64\.0\.5 +legacy +this node +eigrp \(192\) +0 +br0 +- +legacy\n/)
      assert.match(table.stdout, /\nfd00:64::5 +legacy +this node +eigrp \(192\) +1024 +br0 +- +legacy$/m)
      assert.include(table.stdout, "1 ours, 0 learned, 0 conflicts, 1 orphan, 0 missing, 4 legacy")

      const listed = JSON.parse((await cli(sandbox, ["list", "--config", file, "--json"])).stdout) as {
        claims: ReadonlyArray<{
          address: string
          routes: ReadonlyArray<Record<string, unknown>>
          problems: ReadonlyArray<string>
        }>
        summary: Record<string, number>
      }
      const five = listed.claims.find((c) => c.address === "100.64.0.5")
      assert.deepStrictEqual(five?.routes, [
        {
          origin: "legacy",
          nextHop: null,
          nodeName: null,
          protocol: 192,
          protocolName: "eigrp",
          table: 254,
          metric: 0,
          device: "br0"
        }
      ])
      assert.deepStrictEqual(five?.problems, ["legacy"])
      assert.strictEqual(listed.summary.legacy, 4)

      const one = JSON.parse(
        (await cli(sandbox, ["list", "--config", file, "--ip", "fd00:64::5", "--json"])).stdout
      ) as Record<string, unknown>
      assert.strictEqual(one.heldBy, "this node")
      assert.deepStrictEqual(one.problems, ["legacy"])
      assert.deepStrictEqual(one.routes, [
        {
          origin: "legacy",
          nextHop: null,
          nodeName: null,
          protocol: 192,
          protocolName: "eigrp",
          table: 254,
          metric: 1024,
          device: "br0"
        }
      ])
      const text = await cli(sandbox, ["list", "--config", file, "--ip", "100.64.0.7"])
      assert.include(text.stdout, "100.64.0.7: held by this node")
      assert.include(
        text.stdout,
        "route:    legacy (the original Go plugin's, this node), protocol eigrp (192), table 254, metric 0, device br0"
      )
      const metrics = await cli(sandbox, ["list", "--config", file, "--prometheus"])
      assert.include(metrics.stdout.split("\n"), 'routetable_ipam_legacy{network="pods"} 4')

      const gc = await cli(sandbox, ["gc", "--config", file, "--grace", "0", "--json"])
      assert.strictEqual(gc.code, 0, gc.stderr)
      assert.deepStrictEqual(
        (JSON.parse(gc.stdout) as { released: { routes: ReadonlyArray<string> } }).released.routes,
        ["100.64.0.77"]
      )
      assert.deepStrictEqual(
        await protocol192(sandbox),
        legacyRoutes,
        "gc released our orphan and no legacy route"
      )
    })
  )

  it(
    "ADD never hands out an address a legacy route holds",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      // four allocatable IPv4 addresses, three of them held by the Go plugin's routes
      const config = conf(dataDir, { rangeStart: "100.64.0.10", rangeEnd: "100.64.0.13" })
      for (const address of ["100.64.0.10", "100.64.0.11", "100.64.0.12"])
        await ns.run("ip", [
          "route",
          "add",
          `${address}/32`,
          "dev",
          "lo",
          "proto",
          "192",
          "metric",
          "0",
          "scope",
          "global"
        ])
      const first = assertAdded(await runPlugin(ns, attachmentEnv(ns, "ADD", "n1"), config), "1.0.0")
      assert.strictEqual(hostOf(first[0]!), "100.64.0.13")
      const second = await runPlugin(ns, attachmentEnv(ns, "ADD", "n2"), config)
      assertCniError(second, 100)
      // negative control: once the legacy routes are gone, their addresses are handed out
      for (const address of ["100.64.0.10", "100.64.0.11", "100.64.0.12"])
        await ns.run("ip", ["route", "del", `${address}/32`, "proto", "192", "metric", "0"])
      const third = assertAdded(await runPlugin(ns, attachmentEnv(ns, "ADD", "n3"), config), "1.0.0")
      assert.include(["100.64.0.10", "100.64.0.11", "100.64.0.12"], hostOf(third[0]!))
    })
  )

  it(
    "--dry-run changes nothing; migrate adopts known containers' routes with records; DEL then releases them",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const { file, cacheDir } = await setup(sandbox)
      const args = ["--config", file, "--cni-cache-dir", cacheDir]

      const dry = await migrateJson(sandbox, [...args, "--dry-run"])
      assert.deepStrictEqual(await protocol192(sandbox), legacyRoutes, "a dry run changes no route")
      assert.deepStrictEqual(
        readdirSync(dataDir).includes("pods") ? records(dataDir) : [],
        [],
        "nor any record"
      )
      assert.strictEqual(dry.network, "pods")
      assert.strictEqual(dry.mode, "adopt")
      assert.isTrue(dry.dryRun)
      assert.strictEqual(dry.cniCacheDir, cacheDir)
      assert.isFalse(dry.cacheMissing)
      assert.deepStrictEqual(dry.unreadableCacheEntries, [
        { file: path.join(cacheDir, "pods-old-eth0"), reason: "not a libcni cniCacheV1 entry" }
      ])
      assert.deepStrictEqual(
        dry.steps.map((s) => [s.address, s.action, s.reason, s.done]),
        [
          ["100.64.0.5", "adopt", null, false],
          ["100.64.0.6", "adopt", null, false],
          ["100.64.0.7", "leave", "UnknownContainer", false],
          ["fd00:64::5", "adopt", null, false]
        ]
      )
      assert.deepStrictEqual(dry.steps[0], {
        address: "100.64.0.5",
        action: "adopt",
        reason: null,
        owner: {
          network: "pods",
          containerId: "c1",
          ifname: "eth0",
          pod: { namespace: "shop", name: "web-c1" }
        },
        device: "br0",
        done: false,
        note: null,
        error: null,
        message: "would adopt 100.64.0.5 for pods/c1/eth0 (shop/web-c1) through br0"
      })
      assert.strictEqual(dry.steps[2]?.owner, null)
      assert.include(
        dry.steps[2]?.message ?? "",
        "would leave 100.64.0.7 legacy: no container in the CNI result cache"
      )
      assert.deepStrictEqual(dry.summary, { adopt: 3, remove: 0, leftLegacy: 1, failed: 0 })

      const done = await migrateJson(sandbox, args)
      assert.isFalse(done.dryRun)
      assert.deepStrictEqual(
        done.steps.map((s) => [s.address, s.action, s.done, s.error]),
        [
          ["100.64.0.5", "adopt", true, null],
          ["100.64.0.6", "adopt", true, null],
          ["100.64.0.7", "leave", false, null],
          ["fd00:64::5", "adopt", true, null]
        ]
      )
      assert.strictEqual(
        done.steps[0]?.message,
        "adopted 100.64.0.5 for pods/c1/eth0 (shop/web-c1) through br0"
      )
      assert.deepStrictEqual(await protocol192(sandbox), [
        "100.64.0.5 br0 4096",
        "100.64.0.6 br0 4096",
        "100.64.0.7 br0 0",
        "fd00:64::5 br0 4096"
      ])
      const written = records(dataDir)
      assert.deepStrictEqual(
        written.map((r) => [r.containerId, r.ifname, r.network, r.addresses, r.pending, r.pod]),
        [
          ["c1", "eth0", "pods", ["100.64.0.5", "fd00:64::5"], [], { namespace: "shop", name: "web-c1" }],
          ["c2", "eth0", "pods", ["100.64.0.6"], [], { namespace: "shop", name: "web-c2" }]
        ]
      )
      const listed = await cli(sandbox, ["list", "--config", file])
      assert.match(
        listed.stdout,
        /\n100\.64\.0\.5 +ours +this node +eigrp \(192\) +4096 +br0 +shop\/web-c1 eth0\n/
      )
      assert.include(listed.stdout, "3 ours, 0 learned, 0 conflicts, 0 orphans, 0 missing, 1 legacy")
      // running it again changes nothing
      const again = await migrateJson(sandbox, args)
      assert.deepStrictEqual(again.summary, { adopt: 0, remove: 0, leftLegacy: 1, failed: 0 })

      // gc keeps the adopted addresses (they have records); DEL through the CNI path releases c1's
      const gc = await cli(sandbox, ["gc", "--config", file, "--grace", "0"])
      assert.strictEqual(gc.code, 0, gc.stderr)
      assert.strictEqual((await protocol192(sandbox)).length, 4)
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c1"), conf(dataDir)))
      assert.deepStrictEqual(await protocol192(sandbox), ["100.64.0.6 br0 4096", "100.64.0.7 br0 0"])
      assert.deepStrictEqual(
        records(dataDir).map((r) => r.containerId),
        ["c2"]
      )
    })
  )

  it(
    "--remove deletes only legacy routes no known container holds; --force the others; a text run says what it did",
    inSandbox(async (sandbox) => {
      const { file, cacheDir } = await setup(sandbox)
      const args = ["--config", file, "--cni-cache-dir", cacheDir, "--remove"]
      const text = await cli(sandbox, ["migrate", ...args])
      assert.strictEqual(text.code, 0, text.stderr)
      assert.include(text.stdout, "removed legacy route 100.64.0.7 (no container known)")
      assert.include(
        text.stdout,
        "left 100.64.0.5 legacy: the CNI result cache names its container (pods/c1/eth0)"
      )
      assert.include(text.stdout, "0 adopted, 1 removed, 3 left legacy, 0 failed")
      assert.deepStrictEqual(
        await protocol192(sandbox),
        legacyRoutes.filter((r) => !r.startsWith("100.64.0.7"))
      )

      const forced = await migrateJson(sandbox, [...args, "--force"])
      assert.deepStrictEqual(forced.summary, { adopt: 0, remove: 3, leftLegacy: 0, failed: 0 })
      assert.deepStrictEqual(forced.steps[0]?.owner, {
        network: "pods",
        containerId: "c1",
        ifname: "eth0",
        pod: { namespace: "shop", name: "web-c1" }
      })
      assert.deepStrictEqual(await protocol192(sandbox), [])

      const usage = await cli(sandbox, ["migrate", "--config", file, "--force"])
      assert.strictEqual(usage.code, 2)
      assert.include(usage.stderr, "--force only applies to --remove")
    })
  )

  it(
    "killed between inserting our route and deleting the legacy one: the address stays held, gc keeps it held, a rerun finishes",
    inSandbox(async (sandbox) => {
      const { dataDir } = sandbox
      const { file, cacheDir } = await setup(sandbox)
      const args = ["migrate", "--config", file, "--cni-cache-dir", cacheDir]
      const killed = await cli(sandbox, args, { RTIPAM_FAULT_INJECT: "migrate-after-adopt" })
      assert.strictEqual(killed.code, 128 + 9, `SIGKILLed: ${killed.stderr}`)
      // the first address: the legacy route and ours side by side, the record still pending
      assert.deepStrictEqual(await protocol192(sandbox), ["100.64.0.5 br0 4096", ...legacyRoutes].sort())
      assert.deepStrictEqual(
        records(dataDir).map((r) => [r.containerId, r.addresses, r.pending]),
        [["c1", [], ["100.64.0.5"]]]
      )
      const midway = await cli(sandbox, ["list", "--config", file, "--ip", "100.64.0.5", "--json"])
      assert.deepStrictEqual(
        (JSON.parse(midway.stdout) as Record<string, unknown>).problems,
        ["legacy"],
        "not a conflict"
      )

      // gc with no grace releases the crashed adoption's pending record and our route, never the legacy route
      const gc = await cli(sandbox, ["gc", "--config", file, "--grace", "0"])
      assert.strictEqual(gc.code, 0, gc.stderr)
      assert.deepStrictEqual(await protocol192(sandbox), legacyRoutes, "held by the legacy route throughout")

      const rerun = await migrateJson(sandbox, ["--config", file, "--cni-cache-dir", cacheDir])
      assert.deepStrictEqual(rerun.summary, { adopt: 3, remove: 0, leftLegacy: 1, failed: 0 })
      assert.deepStrictEqual(await protocol192(sandbox), [
        "100.64.0.5 br0 4096",
        "100.64.0.6 br0 4096",
        "100.64.0.7 br0 0",
        "fd00:64::5 br0 4096"
      ])

      // killed again in a fresh start, then rerun without gc in between: resumes from our route
      await sandbox.ns.run("ip", [
        "route",
        "add",
        "100.64.0.8/32",
        "dev",
        "br0",
        "proto",
        "192",
        "metric",
        "0",
        "scope",
        "global"
      ])
      writeFileSync(path.join(cacheDir, "pods-c3-eth0"), JSON.stringify(cacheEntry("c3", ["100.64.0.8"])))
      const killedAgain = await cli(sandbox, args, { RTIPAM_FAULT_INJECT: "migrate-after-adopt" })
      assert.strictEqual(killedAgain.code, 128 + 9)
      assert.includeMembers([...(await protocol192(sandbox))], ["100.64.0.8 br0 0", "100.64.0.8 br0 4096"])
      const resumed = await migrateJson(sandbox, ["--config", file, "--cni-cache-dir", cacheDir])
      assert.deepStrictEqual(
        resumed.steps.filter((s) => s.done).map((s) => s.address),
        ["100.64.0.8"]
      )
      assert.notInclude(await protocol192(sandbox), "100.64.0.8 br0 0")
      assert.include(await protocol192(sandbox), "100.64.0.8 br0 4096")
    })
  )
})
