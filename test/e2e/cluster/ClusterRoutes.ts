// Who holds what, cluster-wide, straight from every node's kernel: our routes and the ones BIRD installed.
import { birdProtocol, type Lab, type LabNode, waitForRoutes } from "../../support/Lab.ts"

/** The plugin's route protocol number. */
export const ourProtocol = 192

/** The address family of an address. */
export const familyOf = (host: string): 4 | 6 => (host.includes(":") ? 6 : 4)

/** `host` as a root selector for `ip route show root`. */
const hostPrefix = (host: string) => `${host}/${familyOf(host) === 4 ? 32 : 128}`

/** Names of the nodes whose kernel holds a route of ours to `host`. */
export const holdersOf = async (lab: Lab, host: string): Promise<ReadonlyArray<string>> => {
  const family = familyOf(host)
  const holders: Array<string> = []
  for (const node of lab.nodes) {
    const routes = await node.routes(family, hostPrefix(host))
    for (const route of routes) if (route.protocol === ourProtocol) holders.push(node.name)
  }
  return holders
}

/** Every host of ours under `root` on each node: node name -> hosts. */
export const ourHostsByNode = async (
  lab: Lab,
  family: 4 | 6,
  root: string
): Promise<ReadonlyMap<string, ReadonlyArray<string>>> => {
  const byNode = new Map<string, ReadonlyArray<string>>()
  for (const node of lab.nodes) {
    const routes = await node.routes(family, root)
    byNode.set(
      node.name,
      routes.filter((route) => route.protocol === ourProtocol).map((route) => route.dst)
    )
  }
  return byNode
}

/** Wait until `node` has a BIRD route to every one of `hosts` (up to `timeoutMs`); returns the missing ones. */
export const waitLearned = async (
  node: LabNode,
  hosts: ReadonlyArray<string>,
  timeoutMs = 3_000
): Promise<ReadonlyArray<string>> => {
  const missing: Array<string> = []
  const deadline = Date.now() + timeoutMs
  for (const host of hosts) {
    const routes = await waitForRoutes(
      node,
      familyOf(host),
      hostPrefix(host),
      (found) => found.some((route) => route.protocol === birdProtocol),
      Math.max(0, deadline - Date.now())
    )
    if (!routes.some((route) => route.protocol === birdProtocol)) missing.push(host)
  }
  return missing
}
