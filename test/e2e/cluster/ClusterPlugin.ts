// Runs the built plugin (dist/routetable-ipam) on a lab node: network configs, ADD/DEL, and what came back.
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import type { CommandResult, LabNode } from "../../support/Lab.ts"
import { nodeBinary, pluginFile } from "../support/BuiltPlugin.ts"

/** One range of a range set (host-local's keys). */
export interface RangeConf {
  readonly subnet: string
  readonly rangeStart?: string
  readonly rangeEnd?: string
}

/** The plugin's `ipam` keys a cluster test varies; the rest is fixed by `networkConfig`. */
export interface IpamOptions {
  readonly ranges: ReadonlyArray<ReadonlyArray<RangeConf>>
  readonly propagationTimeout?: string
  readonly tieBreak?: boolean
  readonly maxAttempts?: number
}

/** The lab's device for pod routes (a veth pair pods0/pods0p on every node). */
export const podDevice = "pods0"

/** The network config an ADD receives on `dataDir`'s node: name "pods", 250 ms propagation timeout. */
export const networkConfig = (
  dataDir: string,
  ipam: IpamOptions,
  requested?: ReadonlyArray<string>
): Record<string, unknown> => ({
  cniVersion: "1.0.0",
  name: "pods",
  type: "routetable-ipam",
  ...(requested === undefined ? {} : { runtimeConfig: { ips: requested } }),
  ipam: {
    type: "routetable-ipam",
    device: podDevice,
    propagationTimeout: "250ms",
    dataDir,
    ...ipam
  }
})

/** What one plugin invocation on one node returned. */
export interface PluginOutcome {
  readonly node: LabNode
  readonly command: "ADD" | "DEL"
  readonly containerId: string
  /** Exit status (the CNI error code on failure, 0 on success). */
  readonly code: number | null
  /** Addresses of the result without prefix length ([] on failure). */
  readonly hosts: ReadonlyArray<string>
  /** The CNI error code on stdout, when the call failed with one. */
  readonly errorCode: number | undefined
  /** Wall time from spawning `ip netns exec` (or from `release`) to the process's exit, in ms. */
  readonly wallMs: number
  readonly stdin: string
  readonly result: CommandResult
}

/** How to reproduce an outcome, for assertion messages. */
export const describeOutcome = (outcome: PluginOutcome): string =>
  `${outcome.node.name} (${outcome.node.netns}) ${outcome.command} ${outcome.containerId} stdin ${outcome.stdin} -> exit ${outcome.code}, stdout ${JSON.stringify(outcome.result.stdout)}, stderr ${JSON.stringify(outcome.result.stderr.slice(0, 1000))}`

const hostOf = (address: string): string => address.slice(0, address.indexOf("/"))

const parseStdout = (stdout: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(stdout)
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Options of one invocation: the requested addresses. */
export interface InvokeOptions {
  readonly requested?: ReadonlyArray<string>
}

interface Prepared {
  readonly stdin: string
  readonly env: Record<string, string>
  readonly args: ReadonlyArray<string>
}

const prepare = (
  node: LabNode,
  command: "ADD" | "DEL",
  dataDir: string,
  containerId: string,
  ipam: IpamOptions,
  options: InvokeOptions
): Prepared => ({
  stdin: JSON.stringify(networkConfig(dataDir, ipam, options.requested)),
  env: {
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: `/var/run/netns/${node.netns}`,
    CNI_IFNAME: "eth0",
    CNI_PATH: path.dirname(pluginFile),
    CNI_ARGS: ""
  },
  args: ["netns", "exec", node.netns, nodeBinary, pluginFile]
})

const outcomeOf = (
  node: LabNode,
  command: "ADD" | "DEL",
  containerId: string,
  stdin: string,
  result: CommandResult,
  wallMs: number
): PluginOutcome => {
  const json = parseStdout(result.stdout)
  const ips = Array.isArray(json?.ips) ? (json.ips as ReadonlyArray<{ readonly address: string }>) : []
  return {
    node,
    command,
    containerId,
    code: result.code,
    hosts: result.code === 0 ? ips.map((ip) => hostOf(ip.address)) : [],
    errorCode: result.code !== 0 && typeof json?.code === "number" ? json.code : undefined,
    wallMs,
    stdin,
    result
  }
}

/** Run the plugin once on `node` (inside its namespace) with `command` for `containerId`. */
export const invoke = async (
  node: LabNode,
  command: "ADD" | "DEL",
  dataDir: string,
  containerId: string,
  ipam: IpamOptions,
  options: InvokeOptions = {}
): Promise<PluginOutcome> => {
  const { stdin, env, args } = prepare(node, command, dataDir, containerId, ipam, options)
  const started = performance.now()
  const result = await node.exec(args[3]!, args.slice(4), { stdin, env, timeoutMs: 60_000 })
  return outcomeOf(node, command, containerId, stdin, result, performance.now() - started)
}

/** A plugin process started but held before its work: it waits for the end of its stdin. */
export interface HeldInvocation {
  /** Resolves once the process has loaded and sits idle waiting for stdin (or after 5 s). */
  readonly ready: Promise<void>
  /** Send the config and close stdin: the plugin starts its work now. */
  readonly release: () => void
  /** The outcome; `wallMs` counts from `release`. */
  readonly done: Promise<PluginOutcome>
}

/**
 * Whether the process sleeps waiting for stdin: in epoll_wait (Node's event loop idle, as when
 * stdin is read through a stream) or in a blocking read of its stdin (the plugin reads fd 0 with
 * readSync: unix_stream_read_generic for the socket pair Node's spawn gives it, pipe_read for a pipe).
 */
const idle = (pid: number): boolean => {
  try {
    const wchan = readFileSync(`/proc/${pid}/wchan`, "utf8")
    return ["epoll_wait", "unix_stream_read_generic", "pipe_read"].some((name) => wchan.includes(name))
  } catch {
    return false
  }
}

/**
 * Start the plugin on `node` but hold it: stdin stays open until `release`. The plugin reads its
 * config from stdin before it touches the routing table, so releasing several held processes in
 * the same tick makes them race from the same instant, with Node's start-up and bundle load behind them.
 */
export const hold = (
  node: LabNode,
  command: "ADD" | "DEL",
  dataDir: string,
  containerId: string,
  ipam: IpamOptions,
  options: InvokeOptions = {}
): HeldInvocation => {
  const { stdin, env, args } = prepare(node, command, dataDir, containerId, ipam, options)
  const child = spawn("ip", [...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] })
  const stdout: Array<Buffer> = []
  const stderr: Array<Buffer> = []
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
  child.stdin.on("error", () => {})
  let releasedAt: number | undefined
  const exited = new Promise<CommandResult>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8")
      })
    )
  })
  const ready = (async () => {
    const deadline = Date.now() + 5_000
    let quiet = 0
    while (quiet < 2 && Date.now() < deadline && child.pid !== undefined && child.exitCode === null) {
      quiet = idle(child.pid) ? quiet + 1 : 0
      await sleep(15)
    }
  })()
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
  const done = exited.then((result) => {
    clearTimeout(timer)
    const wallMs = performance.now() - (releasedAt ?? performance.now())
    return outcomeOf(node, command, containerId, stdin, result, wallMs)
  })
  return {
    ready,
    release: () => {
      releasedAt = performance.now()
      child.stdin.end(stdin)
    },
    done
  }
}

/** One data directory (`ipam.dataDir`) per node of a lab, removed by `remove`. */
export interface DataDirs {
  readonly of: (node: LabNode) => string
  readonly remove: () => void
}

/** Make a temporary data directory for every node of a lab. */
export const makeDataDirs = (nodes: ReadonlyArray<LabNode>): DataDirs => {
  const root = mkdtempSync(path.join(tmpdir(), "rtipam-cluster-"))
  const dirs = new Map(nodes.map((node) => [node.name, path.join(root, node.name)]))
  return {
    of: (node) => {
      const dir = dirs.get(node.name)
      if (dir === undefined) throw new Error(`no data directory for ${node.name}`)
      return dir
    },
    remove: () => rmSync(root, { recursive: true, force: true })
  }
}
