// A cluster of N nodes on one machine: namespaces on a shared bridge, one BIRD each, torn down by prefix.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { renderBirdConfig } from "../../deploy/bird/render.ts"
import {
  type BirdFiles,
  gracefulShutdown,
  isAlive,
  readPid,
  signalAndWait,
  startBird,
  waitEstablished
} from "./BirdProcess.ts"
import { runChecked } from "./Command.ts"
import {
  addNamespace,
  deleteNamespace,
  namespacesOf,
  pidsIn,
  prefixPattern,
  randomPrefix,
  switchName
} from "./Namespaces.ts"
import { type LabNode, makeNode } from "./Node.ts"

export type { LabNode, LabRoute } from "./Node.ts"

/** How to build a lab. */
export interface LabOptions {
  /** Number of nodes, 1..8 (3..8 make sense for a mesh). */
  readonly nodes: number
  /** Give nodes IPv6 underlay addresses and an IPv6 channel (default true). */
  readonly v6?: boolean
  /** IPv4 pod range whose host routes BIRD carries (default 100.64.0.0/10). */
  readonly podPrefix4?: string
  /** IPv6 pod range (default fd00:100::/48). */
  readonly podPrefix6?: string
  /** Route protocol number of the claims (default 192). */
  readonly routeProtocol?: number
  /** BGP hold time in seconds (default BIRD's 240); 3 lets a test time a blocked session out. */
  readonly holdTime?: number
  /** Long-lived graceful restart as shipped (default true); false: a timed-out session flushes routes. */
  readonly longLivedGracefulRestart?: boolean
}

/** A running lab. Node indexes are 0-based positions in `nodes`. */
export interface Lab {
  readonly prefix: string
  /** Temp directory with each node's BIRD config, socket, pid file and log. */
  readonly dir: string
  readonly podPrefix4: string
  readonly podPrefix6: string | undefined
  readonly nodes: ReadonlyArray<LabNode>
  /** Start node i's BIRD (after kill/stop); `graceful` adds `-R`. Waits for the mesh to be up. */
  readonly startBird: (index: number, options?: { readonly graceful?: boolean }) => Promise<void>
  /**
   * Restart node i's BIRD (started if it is not running) and wait for the mesh. graceful:
   * `birdc graceful restart`, then `bird -R`, so peers and the kernel keep the routes; otherwise
   * a clean shutdown (SIGTERM: peers withdraw its routes meanwhile) and a plain start.
   */
  readonly restartBird: (index: number, options?: { readonly graceful?: boolean }) => Promise<void>
  /** Send a signal (default SIGKILL) to node i's BIRD and wait until it has exited. */
  readonly killBird: (index: number, signal?: NodeJS.Signals) => Promise<void>
  /** Clean shutdown of node i's BIRD (SIGTERM: sessions closed, peers withdraw its routes). */
  readonly stopBird: (index: number) => Promise<void>
  /** Wait until every node's BIRD has all its sessions Established (all must be running). */
  readonly waitEstablished: (timeoutMs?: number) => Promise<void>
  /** Kill every BIRD, delete every namespace and the temp directory. Idempotent. */
  readonly down: () => Promise<void>
}

/** The directory a run keeps its files in: derived from the prefix, so `down(prefix)` finds it. */
export const labDir = (prefix: string): string => join(tmpdir(), `${prefix}lab`)

const claimPrefix = async (): Promise<string> => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const prefix = randomPrefix()
    if ((await namespacesOf(prefix)).length > 0) continue
    try {
      mkdirSync(labDir(prefix), { mode: 0o700 })
      return prefix
    } catch {}
  }
  throw new Error("could not find an unused lab prefix")
}

const wire = async (prefix: string, node: LabNode, number: number): Promise<void> => {
  const sw = switchName(prefix)
  await addNamespace(node.netns)
  // No duplicate address detection: addresses (link-local ones too) are usable at once, so BIRD
  // finds the IPv6 next hop when the sessions start.
  await runChecked("ip", ["netns", "exec", node.netns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])
  const batch = [
    `link add eth0 type veth peer name n${number} netns ${sw}`,
    `addr add ${node.address}/24 dev eth0`,
    ...(node.address6 === undefined ? [] : [`addr add ${node.address6}/64 dev eth0 nodad`]),
    "link set eth0 up",
    "link add pods0 type veth peer name pods0p",
    "link set pods0p up",
    "link set pods0 up"
  ].join("\n")
  await runChecked("ip", ["-n", node.netns, "-batch", "-"], { stdin: `${batch}\n` })
  await runChecked("ip", ["-n", sw, "link", "set", `n${number}`, "master", "br0", "up"])
}

const filesOf = (node: LabNode): BirdFiles => ({
  netns: node.netns,
  config: node.birdConfig,
  socket: node.birdSocket,
  pidFile: node.birdPidFile
})

/** The PID in a pid file, but only if that process is a bird inside the given namespace. */
const birdPid = async (pidFile: string, netns: string): Promise<number | undefined> => {
  const pid = readPid(pidFile)
  if (pid === undefined || !isAlive(pid)) return undefined
  return (await pidsIn(netns)).includes(pid) ? pid : undefined
}

/** Tear down the run with this prefix, whatever state a crash left it in. */
export const down = async (prefix: string): Promise<void> => {
  if (!prefixPattern.test(prefix)) throw new Error(`"${prefix}" is not a lab prefix (rtl<4 hex>-)`)
  const dir = labDir(prefix)
  const namespaces = await namespacesOf(prefix)
  for (const netns of namespaces) {
    const number = netns.slice(prefix.length + 1)
    const pid = await birdPid(join(dir, `n${number}`, "bird.pid"), netns)
    if (pid !== undefined)
      await signalAndWait(pid, "SIGTERM", 3_000).catch(() => signalAndWait(pid, "SIGKILL"))
    for (const other of await pidsIn(netns)) await signalAndWait(other, "SIGKILL")
  }
  for (const netns of namespaces) await deleteNamespace(netns)
  rmSync(dir, { recursive: true, force: true })
  const left = await namespacesOf(prefix)
  if (left.length > 0) throw new Error(`namespaces left after teardown: ${left.join(", ")}`)
}

/** Build a lab: switch, nodes, BIRD on each; resolves once every BGP session is Established. */
export const up = async (options: LabOptions): Promise<Lab> => {
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 8) {
    throw new Error(`nodes: ${options.nodes} is not in 1..8`)
  }
  const v6 = options.v6 ?? true
  const podPrefix4 = options.podPrefix4 ?? "100.64.0.0/10"
  const podPrefix6 = v6 ? (options.podPrefix6 ?? "fd00:100::/48") : undefined
  const prefix = await claimPrefix()
  const dir = labDir(prefix)
  const numbers = Array.from({ length: options.nodes }, (_, index) => index + 1)
  const nodes = numbers.map((number) => makeNode(prefix, dir, number, v6))
  try {
    const sw = switchName(prefix)
    await addNamespace(sw)
    await runChecked("ip", ["-n", sw, "link", "add", "br0", "type", "bridge"])
    await runChecked("ip", ["-n", sw, "link", "set", "br0", "up"])
    for (const [index, node] of nodes.entries()) {
      await wire(prefix, node, index + 1)
      mkdirSync(join(dir, node.name))
      const config = renderBirdConfig({
        routerId: node.address,
        localAddress: node.address,
        peers: nodes.filter((peer) => peer !== node).map((peer) => peer.address),
        podPrefixes4: [podPrefix4],
        podPrefixes6: podPrefix6 === undefined ? [] : [podPrefix6],
        ...(node.address6 === undefined ? {} : { localAddress6: node.address6 }),
        ...(options.routeProtocol === undefined ? {} : { routeProtocol: options.routeProtocol }),
        ...(options.holdTime === undefined ? {} : { holdTime: options.holdTime }),
        ...(options.longLivedGracefulRestart === undefined
          ? {}
          : { longLivedGracefulRestart: options.longLivedGracefulRestart }),
        fastTimers: true,
        logFile: node.birdLog
      })
      writeFileSync(node.birdConfig, config)
    }
    writeFileSync(
      join(dir, "lab.json"),
      JSON.stringify(
        { prefix, podPrefix4, podPrefix6, nodes: nodes.map(({ exec, routes, sessions, ...rest }) => rest) },
        null,
        2
      )
    )
    await Promise.all(nodes.map((node) => startBird(filesOf(node))))
    await waitEstablished(
      nodes.map((node) => node.birdSocket),
      nodes.length - 1
    )
  } catch (error) {
    await down(prefix).catch(() => {})
    throw error
  }
  const nodeAt = (index: number): LabNode => {
    const node = nodes[index]
    if (node === undefined) throw new Error(`no node at index ${index} (0..${nodes.length - 1})`)
    return node
  }
  const waitMesh = (timeoutMs?: number) =>
    waitEstablished(
      nodes.map((node) => node.birdSocket),
      nodes.length - 1,
      timeoutMs
    )
  const killBird = async (index: number, signal: NodeJS.Signals = "SIGKILL") => {
    const node = nodeAt(index)
    const pid = await birdPid(node.birdPidFile, node.netns)
    if (pid === undefined) throw new Error(`BIRD of ${node.name} is not running`)
    await signalAndWait(pid, signal)
    rmSync(node.birdPidFile, { force: true })
  }
  const startOne = async (index: number, start: { readonly graceful?: boolean } = {}) => {
    await startBird(filesOf(nodeAt(index)), start)
    await waitMesh()
  }
  const stopBird = (index: number) => killBird(index, "SIGTERM")
  let downed: Promise<void> | undefined
  return {
    prefix,
    dir,
    podPrefix4,
    podPrefix6,
    nodes,
    startBird: startOne,
    restartBird: async (index, restart = {}) => {
      const node = nodeAt(index)
      const pid = await birdPid(node.birdPidFile, node.netns)
      if (pid !== undefined && restart.graceful === true) {
        await gracefulShutdown(node.birdSocket, pid)
        rmSync(node.birdPidFile, { force: true })
      } else if (pid !== undefined) {
        await stopBird(index)
      }
      await startOne(index, restart)
    },
    killBird,
    stopBird,
    waitEstablished: waitMesh,
    down: () => {
      downed ??= down(prefix)
      return downed
    }
  }
}

/** Description of a lab written by `up` (for the CLI), if its directory still exists. */
export const describe = (prefix: string): unknown => {
  try {
    return JSON.parse(readFileSync(join(labDir(prefix), "lab.json"), "utf8"))
  } catch {
    return undefined
  }
}
