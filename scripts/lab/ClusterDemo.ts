// The cluster demo: a 3-node BIRD lab, pods on every node through bridge + routetable-ipam, who got what, and a ping matrix.
import { up } from "./Cluster.ts"
import { runsPresent } from "./Namespaces.ts"
import type { LabNode } from "./Node.ts"
import { attachPodNetwork, type Pod, type Topology } from "./PodNetwork.ts"
import { ping } from "./Reachability.ts"

/** What the demo needs: how to run the IPAM, the topology, where its lines go. */
export interface ClusterDemoOptions {
  readonly ipamProgram: ReadonlyArray<string>
  readonly topology: Topology
  readonly print: (line: string) => void
  /** Pods per node (default 2). */
  readonly podsPerNode?: number
}

const topologyLine: Record<Topology, string> = {
  routed:
    "routed: each node's bridge rtd0 is its own segment (gateway .1 / ::1); a pod's packets to another node's pod go to its node, which forwards them on the route BIRD learned from the hosting node",
  overlay:
    "overlay: the nodes' bridges ovl0 form one layer-2 segment over vxlan (VNI 42); pods reach each other by MAC, the host routes still show the cluster-wide view"
}

const pad = (text: string, width: number) => text.padEnd(width)

/** The node whose underlay address is `gateway`. */
const nodeAt = (nodes: ReadonlyArray<LabNode>, gateway: string | undefined): string =>
  nodes.find((node) => node.address === gateway || node.address6 === gateway)?.name ?? `${gateway}`

/** Run the demo: build, show, tear down (also when something fails). Resolves with whether every ping got through. */
export const runClusterDemo = async (options: ClusterDemoOptions): Promise<boolean> => {
  const { print } = options
  const started = performance.now()
  const lab = await up({ nodes: 3 })
  let allReached = false
  try {
    print(
      `Lab ${lab.prefix}: 3 nodes, each a network namespace with its own BIRD (iBGP full mesh over one switch).`
    )
    for (const node of lab.nodes) print(`  ${node.name}  underlay ${node.address}  ${node.address6 ?? ""}`)
    const network = await attachPodNetwork(lab, {
      topology: options.topology,
      ipamProgram: options.ipamProgram
    })
    print(`\nPod network, ${topologyLine[options.topology]}.`)
    print(`  subnets ${network.subnets[4]} and ${network.subnets[6]}, W (propagationTimeout) 100 ms`)

    const perNode = options.podsPerNode ?? 2
    const indexes = lab.nodes.flatMap((_, index) => Array.from({ length: perNode }, () => index))
    const pods: ReadonlyArray<Pod> = await Promise.all(indexes.map((index) => network.addPod(index)))
    const label = (pod: Pod) => `${pod.name}@${pod.node.name}`
    print(`\nPods, each an ADD of Debian's bridge plugin with routetable-ipam as its IPAM (all at once):`)
    print(`  ${pad("pod", 8)}${pad("IPv4", 17)}${pad("IPv6", 24)}ADD`)
    for (const pod of pods) {
      print(
        `  ${pad(label(pod), 8)}${pad(pod.address(4) ?? "-", 17)}${pad(pod.address(6) ?? "-", 24)}${Math.round(pod.added.wallMs)} ms`
      )
    }

    print(`\nWhat each node's table holds (ip route, protocol 192 = our claims, bird = learned over BGP):`)
    for (const node of lab.nodes) {
      const routes = [
        ...(await node.routes(4, network.subnets[4])),
        ...(network.subnets[6] === undefined ? [] : await node.routes(6, network.subnets[6]))
      ].filter((route) => route.protocol === 192 || route.protocol === 12)
      const own = routes.filter((route) => route.protocol === 192).map((route) => route.dst)
      print(`  ${node.name} holds   ${own.join(", ")}  (dev ${network.bridge})`)
      const peers = new Map<string, Array<string>>()
      for (const route of routes.filter((each) => each.protocol === 12)) {
        const from = nodeAt(lab.nodes, route.gateway)
        peers.set(from, [...(peers.get(from) ?? []), route.dst])
      }
      for (const [peer, hosts] of peers)
        print(`  ${pad("", node.name.length)} learned ${hosts.join(", ")}  via ${peer}`)
    }

    const cells = await Promise.all(
      pods.map((from) =>
        Promise.all(
          pods.map(async (to) =>
            from === to
              ? "  ·  "
              : (
                  await Promise.all(
                    network.families.map(async (family) =>
                      (await ping(from, to.address(family) ?? "")).ok ? "✓" : "✗"
                    )
                  )
                ).join(" ")
          )
        )
      )
    )
    const width = 8
    print(`\nPing matrix: the row's pod pings the column's pod (IPv4 IPv6; ✓ answered, ✗ not):`)
    print(`  ${pad("", width)}${pods.map((pod) => pad(label(pod), width)).join("")}`)
    for (const [row, from] of pods.entries()) {
      print(
        `  ${pad(label(from), width)}${(cells[row] ?? []).map((cell) => pad(` ${cell}`, width)).join("")}`
      )
    }
    const flat = cells.flat().filter((cell) => cell.trim() !== "·")
    allReached = flat.every((cell) => !cell.includes("✗"))
    print(
      `  ${flat.length * network.families.length} pings between pods, ${flat.join(" ").split("✗").length - 1} unanswered`
    )
  } finally {
    await lab.down()
    const left = (await runsPresent()).includes(lab.prefix)
    print(
      `\nTorn down: BIRDs stopped, namespaces of ${lab.prefix} ${left ? "STILL PRESENT" : "deleted"}, ${lab.dir} removed. ${((performance.now() - started) / 1000).toFixed(1)} s in all.`
    )
  }
  return allReached
}
