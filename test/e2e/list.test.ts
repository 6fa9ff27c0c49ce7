// `routetable-ipam list` (built) in a private namespace: claims made by the plugin, a learned route, a conflict, an orphan.
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, it } from "@effect/vitest"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
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

/** A .conflist whose first plugin delegates IPAM to us (as a runtime would find it in /etc/cni/net.d). */
const conflist = (dataDir: string, name: string, v4: string, v6: string) => ({
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
        propagationTimeout: "20ms"
      }
    },
    { type: "portmap", capabilities: { portMappings: true } }
  ]
})

/** The config the plugin itself receives for the list's first plugin. */
const pluginConf = (list: ReturnType<typeof conflist>) => ({
  ...list.plugins[0],
  cniVersion: list.cniVersion,
  name: list.name
})

interface ListedRoute {
  readonly origin: string
  readonly nextHop: string | null
  readonly protocol: number
  readonly metric: number
  readonly device: string | number | null
}
interface Listed {
  readonly network: string | null
  readonly subnets: ReadonlyArray<string>
  readonly claims: ReadonlyArray<{
    readonly address: string
    readonly routes: ReadonlyArray<ListedRoute>
    readonly owner: {
      readonly network: string
      readonly containerId: string
      readonly ifname: string
      readonly pending: boolean
    } | null
    readonly problems: ReadonlyArray<string>
  }>
  readonly summary: Record<string, number>
}

const list = async ({ ns }: Sandbox, args: ReadonlyArray<string>) => {
  const run = await ns.exec(nodeBinary, [pluginFile, "list", ...args], { timeoutMs: 30_000 })
  assert.strictEqual(run.code, 0, `list ${args.join(" ")}: ${run.stderr}`)
  return run.stdout
}

suite("routetable-ipam list (built) on a real kernel", () => {
  beforeAll(assertPluginBuilt)

  it(
    "shows ours with owners, learned routes with next hops, conflicts, orphans; nothing outside the network",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const pods = conflist(dataDir, "pods", "100.64.0.0/24", "fd00:64::/120")
      const other = conflist(dataDir, "other", "100.64.5.0/24", "fd00:65::/120")
      const configFile = path.join(dataDir, "10-pods.conflist")
      writeFileSync(configFile, JSON.stringify(pods))
      const add = async (conf: object, id: string) =>
        (
          await runPlugin(ns, attachmentEnv(ns, "ADD", id), conf).then((run) => assertAdded(run, "1.0.0"))
        ).map(hostOf)
      const [c1v4, c1v6] = await add(pluginConf(pods), "c1")
      const [c2v4, c2v6] = await add(pluginConf(pods), "c2")
      const [gone] = await add(pluginConf(pods), "c3")
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c3"), pluginConf(pods)))
      const [elsewhere] = await add(pluginConf(other), "o1")
      // a link towards "other nodes", a learned route, a conflicting one, and a route of ours nobody owns
      await ns.run("ip", ["link", "add", "up0", "type", "veth", "peer", "name", "up1"])
      await ns.run("ip", ["link", "set", "up0", "up"])
      await ns.run("ip", ["link", "set", "up1", "up"])
      await ns.run("ip", ["addr", "add", "198.18.0.1/24", "dev", "up0"])
      const taken = [c1v4, c2v4, gone]
      const free = (candidates: ReadonlyArray<string>) => candidates.find((a) => !taken.includes(a))!
      const learned = free(["100.64.0.9", "100.64.0.10", "100.64.0.11", "100.64.0.12"])
      const orphan = free(["100.64.0.77", "100.64.0.78", "100.64.0.79", "100.64.0.80"])
      await ns.run("ip", [
        "route",
        "add",
        `${learned}/32`,
        "via",
        "198.18.0.2",
        "proto",
        "12",
        "metric",
        "32"
      ])
      await ns.run("ip", ["route", "add", `${c1v4}/32`, "via", "198.18.0.3", "proto", "12", "metric", "32"])
      await ns.run("ip", ["route", "add", `${orphan}/32`, "dev", "lo", "proto", "192", "metric", "4096"])

      const listed = JSON.parse(await list(sandbox, ["--config", configFile, "--json"])) as Listed
      assert.strictEqual(listed.network, "pods")
      assert.deepStrictEqual(listed.subnets, ["100.64.0.0/24", "fd00:64::/120"])
      const byAddress = new Map(listed.claims.map((c) => [c.address, c]))
      const sortedByNumber = [c1v4!, c2v4!, learned, orphan].sort(
        (a, b) => Number(a.split(".")[3]) - Number(b.split(".")[3])
      )
      assert.deepStrictEqual(
        listed.claims.map((c) => c.address),
        [
          ...sortedByNumber,
          ...[c1v6!, c2v6!].sort(
            (a, b) => Number.parseInt(a.split("::")[1]!, 16) - Number.parseInt(b.split("::")[1]!, 16)
          )
        ],
        "every claim in the network, sorted; the DELeted one and the other network's are absent"
      )
      assert.isFalse(byAddress.has(gone!))
      assert.isFalse(byAddress.has(elsewhere!))

      const c1 = byAddress.get(c1v4!)!
      assert.deepStrictEqual(c1.owner, { network: "pods", containerId: "c1", ifname: "eth0", pending: false })
      assert.deepStrictEqual(c1.problems, ["conflict"])
      assert.deepStrictEqual(
        c1.routes.map((r) => [r.origin, r.nextHop, r.protocol, r.metric, r.device]),
        [
          ["ours", null, 192, 4096, "lo"],
          ["learned", "198.18.0.3", 12, 32, "up0"]
        ]
      )
      assert.strictEqual(byAddress.get(c2v4!)!.owner?.containerId, "c2")
      assert.deepStrictEqual(byAddress.get(c2v4!)!.problems, [])
      assert.strictEqual(byAddress.get(c1v6!)!.owner?.containerId, "c1")
      const foreign = byAddress.get(learned)!
      assert.isNull(foreign.owner)
      assert.deepStrictEqual(foreign.problems, [])
      assert.deepStrictEqual(
        foreign.routes.map((r) => [r.origin, r.nextHop, r.protocol, r.metric, r.device]),
        [["learned", "198.18.0.2", 12, 32, "up0"]]
      )
      assert.deepStrictEqual(byAddress.get(orphan)!.problems, ["orphan"])
      assert.deepStrictEqual(listed.summary, {
        ours: 5,
        learned: 2,
        conflicts: 1,
        orphans: 1,
        missing: 0,
        stale: 0,
        corrupt: 0,
        legacy: 0
      })

      // the readable table: a row per route and the summary line
      const table = await list(sandbox, ["--config", configFile])
      assert.match(
        table,
        new RegExp(
          `\\n${c1v4!.replaceAll(".", "\\.")} +learned +198\\.18\\.0\\.3 +bird \\(12\\) +32 +up0 +- +conflict\\n`
        )
      )
      assert.include(table, "5 ours, 2 learned, 1 conflict, 1 orphan, 0 missing")

      // --pool mode: any prefix, owners from every network under the data directory
      const pooled = JSON.parse(
        await list(sandbox, ["--pool", "100.64.0.0/16", "--data-dir", dataDir, "--json"])
      ) as Listed
      assert.isNull(pooled.network)
      assert.strictEqual(pooled.claims.find((c) => c.address === elsewhere)?.owner?.network, "other")
      assert.deepStrictEqual(pooled.summary, {
        ours: 4,
        learned: 2,
        conflicts: 1,
        orphans: 1,
        missing: 0,
        stale: 0,
        corrupt: 0,
        legacy: 0
      })
    })
  )

  it(
    "usage errors exit 2 with a hint; a config without routetable-ipam, an unreadable --node-names exit 1 naming the file",
    inSandbox(async ({ ns, dataDir }) => {
      const usage = await ns.exec(nodeBinary, [pluginFile, "list", "--pool", "not-a-cidr"])
      assert.strictEqual(usage.code, 2, usage.stderr)
      assert.include(usage.stderr, "--pool")
      const file = path.join(dataDir, "host-local.conf")
      writeFileSync(
        file,
        JSON.stringify({ cniVersion: "1.0.0", name: "x", type: "bridge", ipam: { type: "host-local" } })
      )
      const none = await ns.exec(nodeBinary, [pluginFile, "list", "--config", file])
      assert.strictEqual(none.code, 1, none.stderr)
      assert.include(none.stderr, "no plugin with ipam type routetable-ipam")
      const names = await ns.exec(nodeBinary, [
        pluginFile,
        "list",
        "--pool",
        "100.64.0.0/24",
        "--data-dir",
        dataDir,
        "--node-names",
        path.join(dataDir, "no-such-hosts")
      ])
      assert.strictEqual(names.code, 1, names.stderr)
      assert.include(names.stderr, "--node-names: cannot read")
      assert.include(names.stderr, "no-such-hosts")
      const help = await ns.exec(nodeBinary, [pluginFile, "list", "--help"])
      assert.strictEqual(help.code, 0)
      assert.include(help.stdout, "routetable-ipam list [flags]")
    })
  )

  it(
    "pod names from CNI_ARGS: OWNER shows namespace/name instead of the 64-character ID; --json keeps both",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const pods = conflist(dataDir, "pods", "100.64.0.0/24", "fd00:64::/120")
      const configFile = path.join(dataDir, "10-pods.conflist")
      writeFileSync(configFile, JSON.stringify(pods))
      const long = "4f9c2b7e1d3a5c6b8e0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b"
      const kube = {
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-7d9f;K8S_POD_UID=u1"
      }
      const [v4] = assertAdded(
        await runPlugin(ns, attachmentEnv(ns, "ADD", long, kube), pluginConf(pods)),
        "1.0.0"
      ).map(hostOf)
      const podman = { CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=web" }
      const [w4] = assertAdded(
        await runPlugin(ns, attachmentEnv(ns, "ADD", "podman1", podman), pluginConf(pods)),
        "1.0.0"
      ).map(hostOf)
      const table = await list(sandbox, ["--config", configFile])
      const row = (address: string) => table.split("\n").find((l) => l.startsWith(`${address} `)) ?? ""
      assert.match(row(v4!), /\sshop\/cart-7d9f eth0$/, table)
      assert.match(row(w4!), /\sweb eth0$/, table)
      assert.notInclude(table, long)
      const listed = JSON.parse(await list(sandbox, ["--config", configFile, "--json"])) as {
        claims: ReadonlyArray<{ address: string; owner: Record<string, unknown> | null }>
      }
      const owner = listed.claims.find((c) => c.address === v4)?.owner
      assert.strictEqual(owner?.containerId, long)
      assert.deepStrictEqual(owner?.pod, { namespace: "shop", name: "cart-7d9f" })
      assert.deepStrictEqual(listed.claims.find((c) => c.address === w4)?.owner?.pod, { name: "web" })
    })
  )
})
