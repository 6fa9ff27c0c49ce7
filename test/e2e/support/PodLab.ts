// The pod network of the lab for e2e tests: what it needs, the built plugin as its IPAM, and route checks per address.
import { hasReferencePlugin } from "../../../scripts/lab/CniChain.ts"
import { attachPodNetwork, type PodNetwork, type Topology } from "../../../scripts/lab/PodNetwork.ts"
import * as Lab from "../../support/Lab.ts"
import { hasCommand, isRoot } from "../../support/Privileges.ts"
import { nodeBinary, pluginFile } from "./BuiltPlugin.ts"

export type { Pod, PodNetwork, Topology } from "../../../scripts/lab/PodNetwork.ts"
export {
  type MatrixCell,
  type PingOutcome,
  pathOf,
  ping,
  pingMatrix,
  transitCount,
  underlayOf
} from "../../../scripts/lab/Reachability.ts"

/** Whether pod networks can be built here: root, BIRD, ping and Debian's bridge plugin. */
export const podLabAvailable = (): boolean =>
  isRoot() && hasCommand("bird") && hasCommand("birdc") && hasCommand("ping") && hasReferencePlugin("bridge")

/** What the suites say when they cannot run. */
export const podLabRequirement =
  "needs root, BIRD 2, ping and Debian's bridge plugin (`apt-get install bird2 iputils-ping containernetworking-plugins`)"

/** A 3-node lab with a pod network of `topology` whose IPAM is the built bundle (run with the project's Node). */
export const podLab = async (topology: Topology): Promise<PodNetwork> => {
  const lab = await Lab.up({ nodes: 3 })
  try {
    return await attachPodNetwork(lab, { topology, ipamProgram: [nodeBinary, pluginFile] })
  } catch (error) {
    await lab.down()
    throw error
  }
}

/** The host prefix of an address, as `ip route show root` takes it. */
export const hostPrefix = (address: string): string => `${address}/${address.includes(":") ? 128 : 32}`

/** Per node: the protocols of its routes to exactly `address` (192 ours, 12 BIRD's). */
export const routesTo = async (
  network: PodNetwork,
  address: string
): Promise<Record<string, Array<number>>> => {
  const family = address.includes(":") ? 6 : 4
  const byNode: Record<string, Array<number>> = {}
  for (const node of network.lab.nodes) {
    const routes = await node.routes(family, hostPrefix(address))
    byNode[node.name] = routes.filter((route) => route.dst === address).map((route) => route.protocol)
  }
  return byNode
}

/**
 * Wait (polling every 10 ms, up to `timeoutMs`) until every node's routes to `address` are what
 * `expected` says (node name -> protocols); resolves with the last view either way.
 */
export const waitRoutesTo = async (
  network: PodNetwork,
  address: string,
  expected: Record<string, Array<number>>,
  timeoutMs = 2_000
): Promise<Record<string, Array<number>>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const seen = await routesTo(network, address)
    if (JSON.stringify(seen) === JSON.stringify(expected) || Date.now() > deadline) return seen
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
