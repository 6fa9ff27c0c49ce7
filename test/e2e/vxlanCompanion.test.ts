// vxlan-cni's exact calls (empty stdin, CNI_ARGS only; gateway then container under one owner) on a kernel and across two nodes.
import { mkdirSync } from "node:fs"
import { assert, beforeAll, it } from "@effect/vitest"
import * as Lab from "../support/Lab.ts"
import { canUnshareNet, hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { makeDataDirs } from "./cluster/ClusterPlugin.ts"
import {
  assertAdded,
  assertCniError,
  assertPluginBuilt,
  assertQuietSuccess,
  attachmentEnv,
  describeRun,
  hostOf,
  nodeBinary,
  type PluginRun,
  pluginFile,
  runPluginWithDefaultDataDir
} from "./support/BuiltPlugin.ts"
import { assertOurRoutes } from "./support/KernelRoutes.ts"
import { filesUnder } from "./support/PluginConfig.ts"
import { inSandbox } from "./support/Sandbox.ts"

/** vxlan-cni's host side of a network named "net": a vxlan device and the host's macvlan on it. */
const hostLinks = (local?: string): ReadonlyArray<ReadonlyArray<string>> => [
  [
    "link",
    "add",
    "vx_net",
    "type",
    "vxlan",
    "id",
    "99",
    "dstport",
    "4789",
    ...(local ? ["local", local] : [])
  ],
  ["link", "add", "mv_net", "link", "vx_net", "type", "macvlan", "mode", "bridge"],
  ["link", "set", "vx_net", "up"],
  ["link", "set", "mv_net", "up"]
]

const linkIndexOf = (json: string): number => {
  const [link] = JSON.parse(json) as ReadonlyArray<{ ifindex?: number }>
  assert.isNumber(link?.ifindex, json)
  return link!.ifindex!
}

/** The subnet vxlan-cni is configured with, its gateway, and the exclusions it passes. */
const subnet = { network: "100.64.99.0", gateway: "100.64.99.1", length: 24 } as const
const gatewayArgs = (linkIndex: number, gateway: string = subnet.gateway) =>
  `CIDR=${gateway}/${subnet.length};EXCLUDE_FIRST=1;EXCLUDE_LAST=1;LINK_INDEX=${linkIndex}`
const networkArgs = (linkIndex: number) =>
  `CIDR=${subnet.network}/${subnet.length};EXCLUDE_FIRST=1;EXCLUDE_LAST=1;LINK_INDEX=${linkIndex}`
const delArgs = (host: string, linkIndex: number) => `CIDR=${host}/${subnet.length};LINK_INDEX=${linkIndex}`

/** The one address of an original-interface ADD result (cniVersion 0.4.0). */
const addedHost = (run: PluginRun): string => {
  const ips = assertAdded(run, "0.4.0")
  assert.lengthOf(ips, 1, describeRun(run))
  return hostOf(ips[0]!)
}

privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())(
  "vxlan-cni's call sequence against the kernel",
  () => {
    beforeAll(assertPluginBuilt)

    it(
      "gateway ADD then container ADD under one owner: both held; each DEL releases exactly the address it names",
      inSandbox(async ({ ns, dataDir }) => {
        for (const args of hostLinks()) await ns.run("ip", args)
        const linkIndex = linkIndexOf(await ns.run("ip", ["-j", "link", "show", "mv_net"]))
        const call = (command: "ADD" | "DEL", containerId: string, args: string) =>
          runPluginWithDefaultDataDir(
            ns,
            attachmentEnv(ns, command, containerId, { CNI_ARGS: args }),
            "",
            dataDir
          )

        // the node's first container of the network: the host's gateway, then the container itself
        const gateway = addedHost(await call("ADD", "c1", gatewayArgs(linkIndex)))
        assert.strictEqual(gateway, subnet.gateway)
        const container = addedHost(await call("ADD", "c1", networkArgs(linkIndex)))
        assert.notStrictEqual(container, gateway, "the container got the gateway")
        await assertOurRoutes(ns, [gateway, container], "mv_net")
        // a second container, which no DEL of c1 may touch
        const other = addedHost(await call("ADD", "c2", networkArgs(linkIndex)))
        assert.notInclude([gateway, container], other)
        await assertOurRoutes(ns, [gateway, container, other], "mv_net")

        assertQuietSuccess(await call("DEL", "c1", delArgs(container, linkIndex)))
        await assertOurRoutes(ns, [gateway, other], "mv_net")
        // the last container of the network leaves: vxlan-cni DELs the gateway with that container's ID
        assertQuietSuccess(await call("DEL", "c1", delArgs(gateway, linkIndex)))
        await assertOurRoutes(ns, [other], "mv_net")
        assertQuietSuccess(await call("DEL", "c2", delArgs(other, linkIndex)))
        await assertOurRoutes(ns, [], "mv_net")
        assert.deepStrictEqual(filesUnder(dataDir), [], "records left behind")
      })
    )
  }
)

privileged(
  "needs root and BIRD 2 (`apt-get install bird2`)",
  isRoot() && hasCommand("bird") && hasCommand("birdc")
)("vxlan-cni's call sequence on two BIRD nodes", () => {
  beforeAll(assertPluginBuilt)

  it("two nodes' gateways and containers never collide", async () => {
    const lab = await Lab.up({ nodes: 2, v6: false })
    const dirs = makeDataDirs(lab.nodes)
    try {
      const [n1, n2] = lab.nodes as [Lab.LabNode, Lab.LabNode]
      const linkIndexes = new Map<Lab.LabNode, number>()
      for (const [node, peer] of [
        [n1, n2],
        [n2, n1]
      ] as const) {
        for (const args of hostLinks(node.address)) {
          const result = await node.exec("ip", args)
          assert.strictEqual(result.code, 0, result.stderr)
        }
        await node.exec("bridge", [
          "fdb",
          "append",
          "00:00:00:00:00:00",
          "dev",
          "vx_net",
          "dst",
          peer.address
        ])
        linkIndexes.set(node, linkIndexOf((await node.exec("ip", ["-j", "link", "show", "mv_net"])).stdout))
        mkdirSync(dirs.of(node), { recursive: true })
      }
      /** The plugin on a node, as vxlan-cni runs it: empty stdin, CNI_ARGS only, default dataDir. */
      const call = async (node: Lab.LabNode, command: "ADD" | "DEL", containerId: string, args: string) => {
        const env = {
          CNI_COMMAND: command,
          CNI_CONTAINERID: containerId,
          CNI_IFNAME: "eth0",
          CNI_NETNS: `/var/run/netns/${node.netns}`,
          CNI_ARGS: args,
          CNI_PATH: "/opt/cni/bin"
        }
        const script =
          'mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/cni && mount --bind "$1" /var/lib/cni && shift && exec "$@"'
        const result = await node.exec(
          "unshare",
          ["-m", "--propagation", "private", "sh", "-c", script, "sh", dirs.of(node), nodeBinary, pluginFile],
          { env, stdin: "", timeoutMs: 30_000 }
        )
        const run: PluginRun = {
          code: result.code ?? 128,
          stdout: result.stdout,
          stderr: result.stderr,
          env,
          stdin: ""
        }
        return run
      }
      const index = (node: Lab.LabNode) => linkIndexes.get(node) ?? -1

      // each node's first container of the network: its host's gateway, then the container
      const gateway1 = addedHost(await call(n1, "ADD", "a1", gatewayArgs(index(n1))))
      assert.strictEqual(gateway1, subnet.gateway)
      // node 2 configured with the same gateway address: node 1 holds it, so it is refused (101), not shared
      assertCniError(await call(n2, "ADD", "b1", gatewayArgs(index(n2))), 101)
      // node 2 configured with a gateway of its own
      const gateway2 = addedHost(await call(n2, "ADD", "b1", gatewayArgs(index(n2), "100.64.99.2")))
      assert.strictEqual(gateway2, "100.64.99.2")
      const container1 = addedHost(await call(n1, "ADD", "a1", networkArgs(index(n1))))
      const container2 = addedHost(await call(n2, "ADD", "b1", networkArgs(index(n2))))
      const more = await Promise.all(
        [n1, n2].flatMap((node) =>
          [2, 3, 4].map(async (i) =>
            addedHost(await call(node, "ADD", `${node.name}-c${i}`, networkArgs(index(node))))
          )
        )
      )
      const held = new Map<string, Lab.LabNode>([
        [gateway1, n1],
        [container1, n1],
        [gateway2, n2],
        [container2, n2],
        ...more.map((host, i): [string, Lab.LabNode] => [host, i < 3 ? n1 : n2])
      ])
      const all = [gateway1, container1, gateway2, container2, ...more]
      assert.strictEqual(held.size, all.length, `an address was handed out twice: ${all.join(", ")}`)
      // each address: our route on the node that holds it, BIRD's (learned from it) on the other
      for (const [host, holder] of held) {
        for (const node of lab.nodes) {
          const want = node === holder ? 192 : Lab.birdProtocol
          const routes = await Lab.waitForRoutes(node, 4, `${host}/32`, (found) =>
            found.some((route) => route.protocol === want)
          )
          assert.deepStrictEqual(
            routes.map((route) => route.protocol),
            [want],
            `${host} (held on ${holder.name}) as ${node.name} sees it: ${JSON.stringify(routes)}`
          )
        }
      }
    } finally {
      await lab.down()
      dirs.remove()
    }
  }, 60_000)
})
