// Cuts and restores the BGP session between two lab nodes: iptables rules inside one node's namespace.
import { runChecked } from "./Command.ts"
import type { LabNode } from "./Node.ts"

/** The rules that drop TCP port 179 (either end) between `node` and `peer`, for iptables -I/-D. */
const rules = (peer: LabNode): ReadonlyArray<ReadonlyArray<string>> =>
  [
    ["INPUT", "-s"],
    ["OUTPUT", "-d"]
  ].map(([chain = "", direction = ""]) => [
    chain,
    direction,
    peer.address,
    "-p",
    "tcp",
    "-m",
    "multiport",
    "--ports",
    "179",
    "-j",
    "DROP"
  ])

/**
 * Drop every BGP packet between `node` and `peer` (in `node`'s namespace only). An established
 * session goes silent: updates queue in TCP, and the session times out after the hold time.
 */
export const blockBgp = async (node: LabNode, peer: LabNode): Promise<void> => {
  for (const rule of rules(peer))
    await runChecked("ip", ["netns", "exec", node.netns, "iptables", "-I", ...rule])
}

/** Remove what `blockBgp` added (TCP retransmits what was queued; a timed-out session reconnects). */
export const unblockBgp = async (node: LabNode, peer: LabNode): Promise<void> => {
  for (const rule of rules(peer))
    await runChecked("ip", ["netns", "exec", node.netns, "iptables", "-D", ...rule])
}

/** `birdc disable <protocol>` / `enable` on `node`: an administrative shutdown of one session. */
export const setSession = async (node: LabNode, protocol: string, enabled: boolean): Promise<void> => {
  const out = await runChecked("birdc", ["-s", node.birdSocket, enabled ? "enable" : "disable", protocol])
  if (!/(disabled|enabled)/.test(out))
    throw new Error(`birdc ${enabled ? "enable" : "disable"} ${protocol}: ${out}`)
}

/** The name of `node`'s BGP protocol towards `peer` in a lab (`peer<N>`, numbered over the other nodes). */
export const protocolTowards = (nodes: ReadonlyArray<LabNode>, node: LabNode, peer: LabNode): string => {
  const index = nodes.filter((other) => other !== node).indexOf(peer)
  if (index < 0) throw new Error(`${peer.name} is not a peer of ${node.name}`)
  return `peer${index + 1}`
}
