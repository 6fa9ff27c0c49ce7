// The closing showcase of issue 9: `list` on a 3-node BIRD lab with pod names, totals, node names and a conflict, plus `--prometheus`.
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import * as Lab from "../support/Lab.ts"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { assertPluginBuilt, nodeBinary, pluginFile } from "./support/BuiltPlugin.ts"
import { waitFabricHealthy } from "./support/FabricSettled.ts"

const available = isRoot() && hasCommand("bird") && hasCommand("birdc")
const suite = privileged("needs root and BIRD 2 (`apt-get install bird2`)", available)

const pool4 = "100.64.0.0/24"
const pool6 = "fd00:100::/120"

/** Two pods per node, named as the kubelet passes them in CNI_ARGS. */
const podsOf = (index: number) => [
  { namespace: "shop", name: `cart-${index + 1}` },
  { namespace: "shop", name: `web-${index + 1}` }
]

/** A 64-character container ID, as containerd makes them (the table must not need it). */
const containerIdOf = (pod: { namespace: string; name: string }) =>
  createHash("sha256").update(`${pod.namespace}/${pod.name}`).digest("hex")

interface Listed {
  readonly claims: ReadonlyArray<{
    readonly address: string
    readonly routes: ReadonlyArray<{
      readonly origin: string
      readonly nextHop: string | null
      readonly nodeName: string | null
      readonly protocol: number
      readonly protocolName: string | null
    }>
    readonly owner: { readonly pod?: { readonly namespace?: string; readonly name: string } } | null
    readonly problems: ReadonlyArray<string>
  }>
  readonly summary: Record<string, number>
  readonly pools: ReadonlyArray<{
    readonly pool: string
    readonly allocatable: number
    readonly inUseHere: number
    readonly inUseElsewhere: number
    readonly free: number
  }>
  readonly nodes: ReadonlyArray<{
    readonly node: string
    readonly nodeName: string | null
    readonly protocols: ReadonlyArray<{ readonly protocol: number; readonly name: string | null }>
    readonly addresses: number
  }>
}

suite("list showcase on a 3-node lab", () => {
  let lab: Lab.Lab | undefined
  let root = ""
  const transcript: Array<string> = []
  const say = (line: string) => transcript.push(line)

  const dataDirOf = (node: Lab.LabNode) => path.join(root, node.name)
  const configOf = (node: Lab.LabNode) => path.join(dataDirOf(node), "10-pods.conf")
  const hostsFile = () => path.join(root, "nodes.hosts")

  const conf = (node: Lab.LabNode) => ({
    cniVersion: "1.0.0",
    name: "pods",
    type: "routetable-ipam",
    ipam: {
      type: "routetable-ipam",
      device: "pods0",
      dataDir: dataDirOf(node),
      ranges: [[{ subnet: pool4 }], [{ subnet: pool6 }]],
      fabricHealth: { type: "bird", socket: node.birdSocket }
    }
  })

  /** `routetable-ipam ARGS` inside the node's namespace; the command line goes into the transcript. */
  const routetableIpam = async (node: Lab.LabNode, args: ReadonlyArray<string>) => {
    const result = await node.exec(nodeBinary, [pluginFile, ...args], { timeoutMs: 30_000 })
    assert.strictEqual(result.code, 0, `${node.name}: routetable-ipam ${args.join(" ")}: ${result.stderr}`)
    return result.stdout.trimEnd()
  }

  const show = async (node: Lab.LabNode, args: ReadonlyArray<string>) => {
    const output = await routetableIpam(node, args)
    say(`${node.name}# routetable-ipam ${args.join(" ").replaceAll(root, "$LAB")}`)
    say(output)
    say("")
    return output
  }

  beforeAll(async () => {
    assertPluginBuilt()
    lab = await Lab.up({ nodes: 3 })
    await waitFabricHealthy(lab.nodes.map((node) => node.birdSocket))
    root = mkdtempSync(path.join(tmpdir(), "rtipam-showcase-"))
    // node names as an operator would write them from `kubectl get nodes` (the lab's nodes are n1..n3)
    writeFileSync(
      hostsFile(),
      lab.nodes.map((node) => `${node.address} ${node.name}\n${node.address6} ${node.name}\n`).join("")
    )
    for (const node of lab.nodes) {
      mkdirSync(dataDirOf(node))
      writeFileSync(configOf(node), JSON.stringify(conf(node)))
    }
  }, 120_000)

  afterAll(async () => {
    const prefix = lab?.prefix
    await lab?.down()
    if (root !== "") rmSync(root, { recursive: true, force: true })
    if (prefix !== undefined) assert.notInclude(await Lab.runsPresent(), prefix)
  }, 60_000)

  it("shows pod names, per-pool and per-node totals with node names, a conflict, and the metrics", async () => {
    const nodes = lab!.nodes
    const [n1, n2] = [nodes[0]!, nodes[1]!]
    say(`3-node lab ${lab!.prefix}: BIRD full mesh (iBGP, ADD-PATH), pools ${pool4} and ${pool6}`)
    say(
      `node names (--node-names): ${nodes.map((n) => `${n.name} = ${n.address}, ${n.address6}`).join("; ")}`
    )
    say("")

    // two pods per node, ADD through the built plugin with the kubelet's CNI_ARGS
    const held = new Map<string, ReadonlyArray<string>>()
    for (const [index, node] of nodes.entries()) {
      for (const pod of podsOf(index)) {
        const result = await node.exec(nodeBinary, [pluginFile], {
          stdin: JSON.stringify(conf(node)),
          env: {
            CNI_COMMAND: "ADD",
            CNI_CONTAINERID: containerIdOf(pod),
            CNI_NETNS: `/var/run/netns/${node.netns}`,
            CNI_IFNAME: "eth0",
            CNI_PATH: path.dirname(pluginFile),
            CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${containerIdOf(pod)}`
          },
          timeoutMs: 60_000
        })
        assert.strictEqual(result.code, 0, `${node.name} ADD ${pod.name}: ${result.stdout} ${result.stderr}`)
        const ips = (JSON.parse(result.stdout) as { ips: ReadonlyArray<{ address: string }> }).ips
        const hosts = ips.map((ip) => ip.address.slice(0, ip.address.indexOf("/")))
        held.set(`${pod.namespace}/${pod.name}`, hosts)
        say(`${node.name}: ADD ${pod.namespace}/${pod.name} -> ${hosts.join(", ")}`)
      }
    }
    // every node sees all six claims of each family
    for (const node of nodes) {
      for (const [family, root] of [
        [4, pool4],
        [6, pool6]
      ] as const) {
        const routes = await Lab.waitForRoutes(node, family, root, (r) => r.length >= 6, 5_000)
        assert.strictEqual(routes.length, 6, `${node.name} IPv${family}: ${JSON.stringify(routes)}`)
      }
    }

    // negative controls, before the conflict and without the names file: no conflict, no names
    const before = await routetableIpam(n1, ["list", "--config", configOf(n1)])
    assert.include(before, "4 ours, 8 learned, 0 conflicts, 0 orphans, 0 missing", before)
    assert.notInclude(before, "conflict\n")
    assert.notInclude(before, "n2 (", "/etc/hosts does not name the lab's nodes")
    assert.match(before, /\n198\.18\.0\.2 +bird \(12\) +2\n/)

    // the conflict: n2 claims cart-1's address (n1's pod) by hand, with our protocol and metric
    const contested = held.get("shop/cart-1")![0]!
    await n2.exec("ip", ["route", "add", `${contested}/32`, "dev", "pods0", "proto", "192", "metric", "4096"])
    say(
      `n2# ip route add ${contested}/32 dev pods0 proto 192 metric 4096   # a second claim of cart-1's address`
    )
    say("")
    for (const node of [n1, n2]) {
      const routes = await Lab.waitForRoutes(
        node,
        4,
        pool4,
        (r) => r.filter((x) => x.dst === contested).length === 2
      )
      assert.strictEqual(routes.filter((r) => r.dst === contested).length, 2, `${node.name} sees both claims`)
    }

    const nodeNames = ["--node-names", hostsFile()]
    const table = await show(n1, ["list", "--config", configOf(n1), ...nodeNames])
    const prometheus = await show(n1, ["list", "--config", configOf(n1), ...nodeNames, "--prometheus"])
    await show(n2, ["list", "--config", configOf(n2), ...nodeNames, "--ip", contested])
    const listed = JSON.parse(
      await routetableIpam(n1, ["list", "--config", configOf(n1), ...nodeNames, "--json"])
    ) as Listed
    console.log(transcript.join("\n"))
    if (process.env.RTIPAM_SHOWCASE_FILE !== undefined)
      writeFileSync(process.env.RTIPAM_SHOWCASE_FILE, `${transcript.join("\n")}\n`)

    // pod names: n1's pods by namespace/name, never their 64-character IDs
    const rowsOf = (address: string) => table.split("\n").filter((line) => line.startsWith(`${address} `))
    for (const pod of podsOf(0)) {
      for (const address of held.get(`${pod.namespace}/${pod.name}`)!) {
        assert.match(
          rowsOf(address)[0] ?? "",
          new RegExp(`^\\S+ +ours +this node .* ${pod.namespace}/${pod.name} eth0`)
        )
      }
      assert.notInclude(table, containerIdOf(pod))
    }
    // node names with their addresses, in the claims and the per-node totals
    for (const pod of podsOf(2)) {
      const [v4, v6] = held.get(`${pod.namespace}/${pod.name}`)!
      assert.match(rowsOf(v4!)[0] ?? "", / learned +n3 \(198\.18\.0\.3\) +bird \(12\) /)
      assert.match(rowsOf(v6!)[0] ?? "", / learned +n3 \(fd00:198:18::3\) +bird \(12\) /)
    }
    assert.match(
      table,
      /\nn2 \(198\.18\.0\.2\) +bird \(12\) +3\n/,
      "n2's two pods and its claim of cart-1's address"
    )
    assert.match(table, /\nn2 \(fd00:198:18::2\) +bird \(12\) +2\n/)
    assert.match(table, /\nn3 \(198\.18\.0\.3\) +bird \(12\) +2\n/)
    assert.match(
      table,
      /\nthis node +eigrp \(192\) +4\n/,
      "our protocol by the name Debian's rt_protos gives 192"
    )
    // the conflict: two rows for the contested address, ours (cart-1) and n2's
    const contestedRows = rowsOf(contested)
    assert.strictEqual(contestedRows.length, 2, table)
    assert.match(contestedRows[0]!, / ours +this node .* shop\/cart-1 eth0 +conflict$/)
    assert.match(contestedRows[1]!, / learned +n2 \(198\.18\.0\.2\) +bird \(12\) .* conflict$/)
    assert.include(table, "4 ours, 9 learned, 1 conflict, 0 orphans, 0 missing")

    // --json: the same facts field by field
    const byPool = new Map(listed.pools.map((p) => [p.pool, p]))
    for (const label of [pool4, pool6]) {
      assert.strictEqual(byPool.get(label)?.inUseHere, 2, `${label}: n1's two pods`)
      assert.strictEqual(byPool.get(label)?.inUseElsewhere, 4, `${label}: n2's and n3's pods`)
      assert.strictEqual(byPool.get(label)!.free, byPool.get(label)!.allocatable - 6)
    }
    const n2v4 = listed.nodes.find((n) => n.node === "198.18.0.2")
    assert.strictEqual(n2v4?.nodeName, "n2")
    assert.strictEqual(n2v4?.addresses, 3)
    assert.deepStrictEqual(n2v4?.protocols, [{ protocol: 12, name: "bird" }])
    assert.deepStrictEqual(
      listed.nodes.map((n) => [n.node, n.nodeName, n.addresses]),
      [
        ["this node", null, 4],
        ["198.18.0.2", "n2", 3],
        ["fd00:198:18::2", "n2", 2],
        ["198.18.0.3", "n3", 2],
        ["fd00:198:18::3", "n3", 2]
      ]
    )
    const conflict = listed.claims.find((c) => c.address === contested)
    assert.deepStrictEqual(conflict?.problems, ["conflict"])
    assert.deepStrictEqual(conflict?.owner?.pod, { namespace: "shop", name: "cart-1" })
    assert.deepStrictEqual(
      conflict?.routes.map((r) => [r.origin, r.nextHop, r.nodeName, r.protocol, r.protocolName]),
      [
        ["ours", null, null, 192, "eigrp"],
        ["learned", "198.18.0.2", "n2", 12, "bird"]
      ]
    )
    assert.strictEqual(listed.summary.conflicts, 1)

    // --prometheus: conflicts, per-node samples with node_name, pool sizes, the fabric's sessions
    const samples = prometheus.split("\n").filter((line) => !line.startsWith("#"))
    assert.include(samples, 'routetable_ipam_conflicts{network="pods"} 1')
    assert.include(
      samples,
      'routetable_ipam_node_addresses_in_use{network="pods",node="198.18.0.2",node_name="n2"} 3'
    )
    assert.include(
      samples,
      `routetable_ipam_pool_addresses_in_use{network="pods",pool="${pool4}",where="here"} 2`
    )
    assert.include(
      samples,
      `routetable_ipam_pool_addresses_in_use{network="pods",pool="${pool6}",where="elsewhere"} 4`
    )
    assert.include(samples, 'routetable_ipam_fabric_sessions_up{network="pods"} 2')
    assert.include(samples, 'routetable_ipam_add_outcomes_total{network="pods",outcome="won"} 2')
  })
})
