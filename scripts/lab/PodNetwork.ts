// Pods across a lab's nodes through Debian's bridge plugin and routetable-ipam: an overlay (vxlan) or routed (BIRD) network.
import { join } from "node:path"
import * as Option from "effect/Option"
import { type Cidr, formatCidr, formatIp, ip, parseCidr, sizeOf } from "../../src/domain/Ip.ts"
import type { Lab } from "./Cluster.ts"
import { type CniOutcome, describeCni, runCniPlugin, writeIpamWrapper } from "./CniChain.ts"
import { runChecked } from "./Command.ts"
import { addNamespace, deleteNamespace, podName } from "./Namespaces.ts"
import type { LabNode } from "./Node.ts"

/**
 * - overlay: one layer-2 segment spans the nodes. Each node's bridge has a vxlan port whose
 *   flood list names every other node; pods reach each other by MAC, the nodes only carry frames.
 * - routed: each node's bridge is its own segment with the same gateway address; a pod's packets
 *   to a pod elsewhere go to its node, which forwards them on the host route BIRD learned (next hop:
 *   the hosting node's underlay address).
 */
export type Topology = "overlay" | "routed"

/** How to lay a pod network over a running lab. */
export interface PodNetworkOptions {
  readonly topology: Topology
  /** How to run routetable-ipam, e.g. [node, "dist/routetable-ipam"] or [the single executable]. */
  readonly ipamProgram: ReadonlyArray<string>
  /** Address families of every pod (default both: dual stack). */
  readonly families?: ReadonlyArray<4 | 6>
  /** IPv4 subnet (inside the lab's IPv4 pod range); default 100.64.32.0/24 routed, 100.64.40.0/24 overlay. */
  readonly subnet4?: string
  /** IPv6 subnet (inside the lab's IPv6 pod range); default fd00:100:0:32::/120 routed, fd00:100:0:40::/120 overlay. */
  readonly subnet6?: string
  /** The IPAM's `propagationTimeout` W (default "100ms": the lab's propagation is ~1 ms). */
  readonly propagationTimeout?: string
}

/** One pod: a namespace of the lab with `eth0` on its node's bridge. */
export interface Pod {
  /** "p1", "p2", ... (unique within the lab). */
  readonly name: string
  readonly netns: string
  readonly node: LabNode
  readonly nodeIndex: number
  readonly containerId: string
  /** The addresses of the ADD result, with prefix length ("100.64.32.17/24"). */
  readonly addresses: ReadonlyArray<string>
  /** The address of a family, without prefix length. */
  readonly address: (family: 4 | 6) => string | undefined
  /** MAC of the pod's eth0. */
  readonly mac: string
  /** The ADD that made it. */
  readonly added: CniOutcome
}

/** A pod network on every node of a lab. */
export interface PodNetwork {
  readonly lab: Lab
  readonly topology: Topology
  readonly families: ReadonlyArray<4 | 6>
  /** The bridge on every node (the IPAM's `device`: our host routes point at it). */
  readonly bridge: string
  /** The vxlan device under the bridge (overlay only). */
  readonly vxlan: string | undefined
  readonly subnets: Readonly<Partial<Record<4 | 6, string>>>
  /** The gateway address on every node's bridge (routed only). */
  readonly gateways: Readonly<Partial<Record<4 | 6, string>>>
  /** The bridge plugin's network config on a node (requested addresses go in runtimeConfig.ips). */
  readonly config: (node: LabNode, requested?: ReadonlyArray<string>) => Record<string, unknown>
  /** ADD a pod on node `nodeIndex` through the bridge plugin; throws with the whole exchange on failure. */
  readonly addPod: (
    nodeIndex: number,
    options?: { readonly requested?: ReadonlyArray<string> }
  ) => Promise<Pod>
  /** DEL the pod through the bridge plugin (releasing its addresses), then delete its namespace. */
  readonly deletePod: (pod: Pod) => Promise<CniOutcome>
  /** The pods added and not deleted. */
  readonly pods: () => ReadonlyArray<Pod>
}

const bridgeOf: Record<Topology, string> = { routed: "rtd0", overlay: "ovl0" }
const vxlanDevice = "vxlan0"
const vxlanId = 42
/** Room for the outer IPv4, UDP and vxlan headers and the inner Ethernet header under a 1500-byte underlay. */
const overlayMtu = 1450

const defaultSubnets: Record<Topology, Record<4 | 6, string>> = {
  routed: { 4: "100.64.32.0/24", 6: "fd00:100:0:32::/120" },
  overlay: { 4: "100.64.40.0/24", 6: "fd00:100:0:40::/120" }
}

const cidrOf = (text: string, family: 4 | 6): Cidr => {
  const parsed = parseCidr(text, { strict: true })
  if (Option.isNone(parsed) || parsed.value.family !== family) {
    throw new Error(`"${text}" is not an IPv${family} subnet`)
  }
  return parsed.value
}

/** The two halves of a subnet: routes one bit longer than the pod's on-link prefix, so they win over it. */
const halvesOf = (cidr: Cidr): ReadonlyArray<string> => {
  const half = sizeOf(cidr) / 2n
  return [cidr.network, cidr.network + half].map((network) =>
    formatCidr({ family: cidr.family, network, length: cidr.length + 1 })
  )
}

/** Pod numbers are unique per lab, whatever network they are in. */
const podCounters = new Map<string, number>()

const nextPodNumber = (lab: Lab): number => {
  const next = (podCounters.get(lab.prefix) ?? 0) + 1
  podCounters.set(lab.prefix, next)
  return next
}

const sysctl = (node: LabNode | string, settings: ReadonlyArray<string>) =>
  runChecked("ip", [
    "netns",
    "exec",
    typeof node === "string" ? node : node.netns,
    "sysctl",
    "-qw",
    ...settings
  ])

const batch = (netns: string, lines: ReadonlyArray<string>) =>
  runChecked("ip", ["-n", netns, "-batch", "-"], { stdin: `${lines.join("\n")}\n` })

/**
 * Routed: the node forwards; its bridge answers ARP for addresses it routes elsewhere (proxy ARP,
 * at once instead of after a random delay of up to 0.8 s); reverse-path filtering is off so a
 * packet may come back on another interface than the one its source is routed through.
 */
/**
 * A fixed MAC for a node's bridge. Without one, Linux gives a bridge the lowest MAC of its ports and
 * changes it when that port goes: deleting the pod whose veth lent its MAC changes the gateway's MAC
 * under every other pod of the node, whose caches then point nowhere until they expire.
 */
const bridgeMac = (node: LabNode, topology: Topology): string => {
  const number = Number(node.name.slice(1))
  return `02:72:74:${topology === "routed" ? "01" : "02"}:00:${number.toString(16).padStart(2, "0")}`
}

/**
 * The routed IPv6 pods' next hop for the rest of their subnet: a link-local address of the bridge.
 * A global gateway inside the subnet would not do: once a half of the subnet is routed via it, the
 * kernel no longer finds it on-link and refuses the other half ("no route to host").
 */
export const linkLocalGateway = "fe80::1"

const prepareRoutedNode = async (node: LabNode, bridge: string, topology: Topology): Promise<void> => {
  await sysctl(node, [
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0"
  ])
  await batch(node.netns, [
    `link add ${bridge} address ${bridgeMac(node, topology)} type bridge`,
    `link set ${bridge} up`,
    `addr add ${linkLocalGateway}/64 dev ${bridge}`
  ])
  await sysctl(node, [`net.ipv4.conf.${bridge}.proxy_arp=1`, `net.ipv4.neigh.${bridge}.proxy_delay=0`])
}

/**
 * Overlay: a vxlan port on the bridge, sourced from the node's underlay address; broadcast and
 * unknown frames are copied to every other node (one all-zero FDB entry per peer), and the bridge
 * learns where each pod's MAC lives from the frames that arrive.
 */
const prepareOverlayNode = async (
  node: LabNode,
  peers: ReadonlyArray<LabNode>,
  bridge: string,
  topology: Topology
) => {
  await batch(node.netns, [
    `link add ${bridge} address ${bridgeMac(node, topology)} type bridge`,
    `link add ${vxlanDevice} type vxlan id ${vxlanId} local ${node.address} dev eth0 dstport 4789`,
    `link set ${vxlanDevice} master ${bridge}`,
    `link set ${vxlanDevice} up`,
    `link set ${bridge} up`
  ])
  const flood = peers.map((peer) => `fdb append 00:00:00:00:00:00 dev ${vxlanDevice} dst ${peer.address}`)
  await runChecked("ip", ["netns", "exec", node.netns, "bridge", "-batch", "-"], {
    stdin: `${flood.join("\n")}\n`
  })
}

interface BridgeResult {
  readonly ips?: ReadonlyArray<{ readonly address: string }>
  readonly interfaces?: ReadonlyArray<{
    readonly name: string
    readonly mac?: string
    readonly sandbox?: string
  }>
}

/** Lay a pod network over every node of `lab` (the lab's `down` removes all of it, pods included). */
export const attachPodNetwork = async (lab: Lab, options: PodNetworkOptions): Promise<PodNetwork> => {
  const { topology } = options
  const families = options.families ?? [4, 6]
  if (families.length === 0) throw new Error("a pod network needs at least one address family")
  if (families.includes(6) && lab.podPrefix6 === undefined) throw new Error("the lab has no IPv6")
  const bridge = bridgeOf[topology]
  const subnets: Partial<Record<4 | 6, string>> = {}
  const cidrs: Partial<Record<4 | 6, Cidr>> = {}
  const gateways: Partial<Record<4 | 6, string>> = {}
  for (const family of families) {
    const text = (family === 4 ? options.subnet4 : options.subnet6) ?? defaultSubnets[topology][family]
    const cidr = cidrOf(text, family)
    subnets[family] = formatCidr(cidr)
    cidrs[family] = cidr
    if (topology === "routed") gateways[family] = formatIp(ip(family, cidr.network + 1n))
  }
  const binDir = writeIpamWrapper(join(lab.dir, "cni-bin"), options.ipamProgram)
  for (const node of lab.nodes) {
    if (topology === "routed") await prepareRoutedNode(node, bridge, topology)
    else
      await prepareOverlayNode(
        node,
        lab.nodes.filter((peer) => peer !== node),
        bridge,
        topology
      )
  }

  // Routed IPv6 has no blanket proxy NDP: instead the pod gets the two halves of its subnet via
  // its node, more specific than its on-link prefix, so it never solicits a remote pod itself.
  const routes = families.flatMap((family) => {
    const cidr = cidrs[family]
    return family === 6 && cidr !== undefined && topology === "routed"
      ? halvesOf(cidr).map((dst) => ({ dst, gw: linkLocalGateway }))
      : []
  })
  const config = (node: LabNode, requested?: ReadonlyArray<string>): Record<string, unknown> => ({
    cniVersion: "1.0.0",
    name: topology,
    type: "bridge",
    bridge,
    isGateway: topology === "routed",
    ...(topology === "overlay" ? { mtu: overlayMtu } : {}),
    ...(requested === undefined ? {} : { runtimeConfig: { ips: requested } }),
    ipam: {
      type: "routetable-ipam",
      ranges: families.map((family) => [
        {
          subnet: subnets[family],
          ...(gateways[family] === undefined ? {} : { gateway: gateways[family] })
        }
      ]),
      ...(routes.length === 0 ? {} : { routes }),
      device: bridge,
      dataDir: join(lab.dir, node.name, `ipam-${topology}`),
      propagationTimeout: options.propagationTimeout ?? "100ms"
    }
  })

  const live: Array<Pod> = []
  const nodeAt = (index: number): LabNode => {
    const node = lab.nodes[index]
    if (node === undefined) throw new Error(`no node at index ${index}`)
    return node
  }

  const addPod = async (
    nodeIndex: number,
    addOptions: { readonly requested?: ReadonlyArray<string> } = {}
  ): Promise<Pod> => {
    const node = nodeAt(nodeIndex)
    const number = nextPodNumber(lab)
    const netns = podName(lab.prefix, number)
    await addNamespace(netns)
    // no duplicate address detection in the pod: its addresses are usable the moment they are set
    await sysctl(netns, ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"])
    const containerId = `${topology}-p${number}`
    const call = { command: "ADD", containerId, netns: `/var/run/netns/${netns}` } as const
    const added = await runCniPlugin(node, "bridge", binDir, call, config(node, addOptions.requested))
    if (added.code !== 0) {
      await runCniPlugin(node, "bridge", binDir, { ...call, command: "DEL" }, config(node)).catch(() => {})
      await deleteNamespace(netns)
      throw new Error(`ADD of a pod on ${node.name} failed: ${describeCni(added)}`)
    }
    const result = JSON.parse(added.stdout) as BridgeResult
    const addresses = (result.ips ?? []).map((entry) => entry.address)
    const eth0 = (result.interfaces ?? []).find(
      (entry) => entry.name === "eth0" && entry.sandbox !== undefined
    )
    const hostOf = (family: 4 | 6) => {
      const found = addresses.find((address) => address.includes(":") === (family === 6))
      return found?.slice(0, found.indexOf("/"))
    }
    const pod: Pod = {
      name: `p${number}`,
      netns,
      node,
      nodeIndex,
      containerId,
      addresses,
      address: hostOf,
      mac: eth0?.mac ?? "",
      added
    }
    live.push(pod)
    return pod
  }

  const deletePod = async (pod: Pod): Promise<CniOutcome> => {
    const deleted = await runCniPlugin(
      pod.node,
      "bridge",
      binDir,
      { command: "DEL", containerId: pod.containerId, netns: `/var/run/netns/${pod.netns}` },
      config(pod.node)
    )
    if (deleted.code !== 0) throw new Error(`DEL of ${pod.name} failed: ${describeCni(deleted)}`)
    await deleteNamespace(pod.netns)
    // The node forgets the pod's MAC: a pod that gets the address here later has another MAC and
    // announces nothing (the bridge plugin sends no gratuitous ARP), so the old entry would send its
    // traffic nowhere until it expired.
    for (const address of pod.addresses) {
      await runChecked("ip", [
        "-n",
        pod.node.netns,
        "neigh",
        "flush",
        "to",
        address.slice(0, address.indexOf("/")),
        "dev",
        bridge
      ])
    }
    const at = live.indexOf(pod)
    if (at !== -1) live.splice(at, 1)
    return deleted
  }

  return {
    lab,
    topology,
    families,
    bridge,
    vxlan: topology === "overlay" ? vxlanDevice : undefined,
    subnets,
    gateways,
    config,
    addPod,
    deletePod,
    pods: () => [...live]
  }
}
