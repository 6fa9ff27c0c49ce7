// Measures a pod network: first echo reply after ADD returns, and how long a new pod's claim takes to reach the farthest node.
import { spawn } from "node:child_process"
import type { Pod, PodNetwork } from "./PodNetwork.ts"
import { monitorRoutes, type RouteEvent } from "./RouteMonitor.ts"

/** Median, 95th percentile and maximum in ms (NaN when empty). */
export interface Spread {
  readonly n: number
  readonly medianMs: number
  readonly p95Ms: number
  readonly maxMs: number
}

/** What `measurePodNetwork` found over its samples. */
export interface PodNetworkReport {
  readonly topology: string
  readonly samples: number
  /** Wall time of the bridge plugin's ADD (our IPAM inside it, with its wait W). */
  readonly addMs: Spread
  /** From ADD's return to the first echo reply, a ping started right then on another node's pod. */
  readonly firstReplyAfterAddMs: Spread
  /** The round trip of that first reply: the first packet's own latency (neighbour resolution included). */
  readonly firstReplyRttMs: Spread
  /** How many of those pings had their very first echo request answered. */
  readonly firstRequestAnswered: number
  /** Pings to an address that an earlier pod of this run held (on any node). */
  readonly toReusedAddress: number
  /** Pings with no reply at all in 2 s: the address, and the node that held it earlier in this run, if one did. */
  readonly unanswered: ReadonlyArray<{ readonly address: string; readonly heldEarlierOn: string | undefined }>
  /** Our route inserted on the hosting node -> BIRD's route in the farthest node's kernel, per family. */
  readonly propagationToFarthestMs: Readonly<Record<string, Spread>>
}

const spread = (values: ReadonlyArray<number>): Spread => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  const round = (ms: number) => Math.round(ms * 100) / 100
  return {
    n: sorted.length,
    medianMs: round(at(0.5)),
    p95Ms: round(at(0.95)),
    maxMs: round(sorted.at(-1) ?? Number.NaN)
  }
}

/** The first echo reply of `ping -D` (epoch seconds) and its sequence number. */
interface FirstReply {
  readonly atMs: number
  readonly seq: number
  readonly rttMs: number
}

/** Ping `address` from `from` every 2 ms (up to 2 s) and resolve with the first reply, if any. */
const firstReply = (from: Pod, address: string): Promise<FirstReply | undefined> =>
  new Promise((resolve) => {
    const args = [
      "netns",
      "exec",
      from.netns,
      "ping",
      "-D",
      "-n",
      "-i",
      "0.002",
      "-c",
      "20",
      "-w",
      "2",
      address
    ]
    const child = spawn("ip", args, { stdio: ["ignore", "pipe", "ignore"] })
    let text = ""
    let found: FirstReply | undefined
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      text += chunk
      const match = text.match(/^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+) .*time=([\d.]+) ms/m)
      if (found === undefined && match !== null) {
        found = { atMs: Number(match[1]) * 1000, seq: Number(match[2]), rttMs: Number(match[3]) }
        child.kill("SIGTERM")
      }
    })
    child.on("close", () => resolve(found))
  })

const hostOfRoute = (event: RouteEvent): string =>
  (event.route.split(" ")[0] ?? "").replace(/\/(32|128)$/, "")

/**
 * ADD `samples` pods, one at a time, on the nodes in turn; after each, a pod on every other node
 * pings the new pod's addresses at once, and every node's route events say when the claim arrived.
 * The pods made here are deleted again. Needs one pod on every node already (the pingers).
 */
export const measurePodNetwork = async (network: PodNetwork, samples = 10): Promise<PodNetworkReport> => {
  const nodes = network.lab.nodes
  const pingers = nodes.map((node) => network.pods().find((pod) => pod.node === node))
  if (pingers.some((pod) => pod === undefined)) throw new Error("measuring needs a pod on every node first")
  const monitors = await Promise.all(nodes.map((node) => monitorRoutes(node.netns)))
  const addMs: Array<number> = []
  const replies: Array<number> = []
  const rtts: Array<number> = []
  let firstAnswered = 0
  const unanswered: Array<{ readonly address: string; readonly heldEarlierOn: string | undefined }> = []
  const heldBefore = new Map<string, string>()
  let toReused = 0
  const propagation: Record<string, Array<number>> = {}
  try {
    for (let sample = 0; sample < samples; sample++) {
      const index = sample % nodes.length
      const pod = await network.addPod(index)
      addMs.push(pod.added.wallMs)
      const targets = network.families.flatMap((family) => {
        const address = pod.address(family)
        return address === undefined ? [] : [{ family, address }]
      })
      const answers = await Promise.all(
        targets.flatMap(({ address }) =>
          pingers
            .filter((pinger) => pinger !== undefined && pinger.node !== pod.node)
            .map(async (pinger) => ({ address, answer: await firstReply(pinger!, address) }))
        )
      )
      for (const { address, answer } of answers) {
        if (heldBefore.has(address)) toReused++
        if (answer === undefined) {
          unanswered.push({ address, heldEarlierOn: heldBefore.get(address) })
          continue
        }
        replies.push(answer.atMs - pod.added.endedAtMs)
        rtts.push(answer.rttMs)
        if (answer.seq === 1) firstAnswered++
      }
      for (const { family, address } of targets) {
        const claimed = monitors[index]
          ?.events()
          .find(
            (event) =>
              !event.deleted && hostOfRoute(event) === address && /proto (eigrp|192)/.test(event.route)
          )
        const arrivals = monitors
          .filter((_, at) => at !== index)
          .map((monitor) =>
            monitor
              .events()
              .find(
                (event) =>
                  !event.deleted && hostOfRoute(event) === address && event.route.includes("proto bird")
              )
          )
        if (claimed === undefined || arrivals.some((event) => event === undefined)) continue
        const farthest = Math.max(...arrivals.map((event) => event!.atMicros))
        propagation[`IPv${family}`] = [
          ...(propagation[`IPv${family}`] ?? []),
          (farthest - claimed.atMicros) / 1000
        ]
      }
      for (const { address } of targets) heldBefore.set(address, pod.node.name)
      await network.deletePod(pod)
    }
  } finally {
    await Promise.all(monitors.map((monitor) => monitor.stop()))
  }
  return {
    topology: network.topology,
    samples,
    addMs: spread(addMs),
    firstReplyAfterAddMs: spread(replies),
    firstReplyRttMs: spread(rtts),
    firstRequestAnswered: firstAnswered,
    toReusedAddress: toReused,
    unanswered,
    propagationToFarthestMs: Object.fromEntries(
      Object.entries(propagation).map(([key, values]) => [key, spread(values)])
    )
  }
}
