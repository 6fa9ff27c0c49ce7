// Who reaches whom in a pod network, and by which way: ping between pods, the sender node's route or FDB entry, counters.
import { run, runChecked } from "./Command.ts"
import type { LabNode } from "./Node.ts"
import type { Pod, PodNetwork } from "./PodNetwork.ts"

/** One ping from a pod to an address. */
export interface PingOutcome {
  readonly from: Pod
  readonly to: string
  /** At least one echo reply came back. */
  readonly ok: boolean
  readonly sent: number
  readonly received: number
  /** Average round trip of the replies, when there were any. */
  readonly rttMs: number | undefined
  readonly output: string
}

/** `ping` from inside `from`'s namespace (only ever to pod addresses of the lab). */
export const ping = async (
  from: Pod,
  to: string,
  options: {
    readonly count?: number
    readonly timeoutSeconds?: number
    readonly intervalSeconds?: number
  } = {}
): Promise<PingOutcome> => {
  const count = options.count ?? 1
  const args = ["netns", "exec", from.netns, "ping", "-n", "-q", "-c", String(count)]
  args.push("-W", String(options.timeoutSeconds ?? 1))
  if (options.intervalSeconds !== undefined) args.push("-i", String(options.intervalSeconds))
  const result = await run("ip", [...args, to], { timeoutMs: 30_000 })
  const counts = result.stdout.match(/(\d+) packets transmitted, (\d+) received/)
  const rtt = result.stdout.match(/= [\d.]+\/([\d.]+)\//)
  const received = Number(counts?.[2] ?? 0)
  return {
    from,
    to,
    ok: result.code === 0 && received > 0,
    sent: Number(counts?.[1] ?? 0),
    received,
    rttMs: rtt?.[1] === undefined ? undefined : Number(rtt[1]),
    output: `${result.stdout}${result.stderr}`.trim()
  }
}

/** One cell of a ping matrix: `from` pinged `to`'s address of `family`. */
export interface MatrixCell {
  readonly from: Pod
  readonly to: Pod
  readonly family: 4 | 6
  readonly outcome: PingOutcome
}

/** Every pod pings every pod on another node, in each family, all at once (one echo each). */
export const pingMatrix = async (
  pods: ReadonlyArray<Pod>,
  families: ReadonlyArray<4 | 6>
): Promise<ReadonlyArray<MatrixCell>> => {
  const pairs = pods.flatMap((from) =>
    pods
      .filter((to) => to.node !== from.node)
      .flatMap((to) => families.map((family) => ({ from, to, family })))
  )
  return Promise.all(
    pairs.map(async ({ from, to, family }) => {
      const address = to.address(family)
      if (address === undefined) throw new Error(`${to.name} has no IPv${family} address`)
      return { from, to, family, outcome: await ping(from, address) }
    })
  )
}

/** Where the sender's node sends a packet for `to`: next hop and device, or the vxlan peer. */
export interface PathOf {
  /** Routed: the next hop of the node's route (`ip route get ... iif BRIDGE`). Overlay: the vxlan FDB's remote. */
  readonly nextHop: string | undefined
  readonly dev: string | undefined
  /** What was asked, for messages. */
  readonly evidence: string
}

/**
 * The way `from`'s node takes to `to` in `family`. Routed: `ip route get TO from FROM iif BRIDGE`
 * on the node (the lookup a forwarded packet from the pod gets). Overlay: the node's vxlan FDB entry
 * for `to`'s MAC (learned from the frames that came back), whose `dst` is the node it tunnels to.
 */
export const pathOf = async (network: PodNetwork, from: Pod, to: Pod, family: 4 | 6): Promise<PathOf> => {
  const node = from.node
  if (network.topology === "routed") {
    const dst = to.address(family)
    const src = from.address(family)
    if (dst === undefined || src === undefined) throw new Error(`no IPv${family} addresses`)
    const args = [`-${family}`, "-j", "route", "get", dst, "from", src, "iif", network.bridge]
    const out = await runChecked("ip", ["-n", node.netns, ...args])
    const [route] = JSON.parse(out) as ReadonlyArray<{ gateway?: string; dev?: string }>
    return {
      nextHop: route?.gateway,
      dev: route?.dev,
      evidence: `${node.name}: ip ${args.join(" ")} -> ${out.trim()}`
    }
  }
  const device = network.vxlan ?? ""
  const out = await runChecked("ip", [
    "netns",
    "exec",
    node.netns,
    "bridge",
    "-j",
    "fdb",
    "show",
    "dev",
    device
  ])
  const entries = JSON.parse(out === "" ? "[]" : out) as ReadonlyArray<{ mac?: string; dst?: string }>
  const entry = entries.find((each) => each.mac === to.mac && each.dst !== undefined)
  return {
    nextHop: entry?.dst,
    dev: entry === undefined ? undefined : device,
    evidence: `${node.name}: bridge fdb show dev ${device} -> ${out.trim()}`
  }
}

/** The underlay address a node is reached at in `family` (BIRD's next hop for its claims). */
export const underlayOf = (node: LabNode, family: 4 | 6): string | undefined =>
  family === 4 ? node.address : node.address6

const snmpValue = (text: string, section: string, field: string): number => {
  const lines = text.split("\n").filter((line) => line.startsWith(`${section}:`))
  const names = (lines[0] ?? "").split(/\s+/)
  const values = (lines[1] ?? "").split(/\s+/)
  const at = names.indexOf(field)
  if (at === -1) throw new Error(`no ${section} ${field} in /proc/net/snmp`)
  return Number(values[at])
}

/**
 * The packets that reach a node on their way to one of its pods: routed, the datagrams it forwarded
 * (/proc/net/snmp ForwDatagrams, /proc/net/snmp6 Ip6OutForwDatagrams); overlay, the packets its
 * vxlan device received.
 */
export const transitCount = async (network: PodNetwork, node: LabNode, family: 4 | 6): Promise<number> => {
  if (network.topology === "overlay") {
    const out = await runChecked("ip", ["-n", node.netns, "-j", "-s", "link", "show", network.vxlan ?? ""])
    const [link] = JSON.parse(out) as ReadonlyArray<{ stats64?: { rx?: { packets?: number } } }>
    return link?.stats64?.rx?.packets ?? 0
  }
  if (family === 4) {
    return snmpValue(
      await runChecked("ip", ["netns", "exec", node.netns, "cat", "/proc/net/snmp"]),
      "Ip",
      "ForwDatagrams"
    )
  }
  const text = await runChecked("ip", ["netns", "exec", node.netns, "cat", "/proc/net/snmp6"])
  const line = text.split("\n").find((each) => each.startsWith("Ip6OutForwDatagrams"))
  return Number(line?.split(/\s+/)[1] ?? Number.NaN)
}
