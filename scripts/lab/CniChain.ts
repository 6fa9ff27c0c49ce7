// A reference CNI plugin (Debian's bridge) run inside a lab node, with routetable-ipam as its IPAM.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { CommandResult } from "./Command.ts"
import type { LabNode } from "./Node.ts"

/** Where Debian's containernetworking-plugins installs bridge, macvlan, ... */
export const referencePluginDir = "/usr/lib/cni"

/** Whether a reference plugin is installed (`apt-get install containernetworking-plugins`). */
export const hasReferencePlugin = (name: string): boolean => existsSync(join(referencePluginDir, name))

/** The `ipam.type` the reference plugins look up on CNI_PATH. */
export const ipamType = "routetable-ipam"

/**
 * Write `dir/routetable-ipam`: a shell wrapper that execs `program` (e.g. the project's Node and
 * dist/routetable-ipam, or the single executable) with the plugin's arguments, so a reference
 * plugin finds our IPAM on CNI_PATH. Returns `dir`.
 */
export const writeIpamWrapper = (dir: string, program: ReadonlyArray<string>): string => {
  if (program.length === 0) throw new Error("the IPAM program is empty")
  mkdirSync(dir, { recursive: true })
  const quoted = program.map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(" ")
  const wrapper = join(dir, ipamType)
  writeFileSync(wrapper, `#!/bin/sh\nexec ${quoted} "$@"\n`)
  chmodSync(wrapper, 0o755)
  return dir
}

/** One CNI invocation besides its config. */
export interface CniCall {
  readonly command: "ADD" | "DEL" | "CHECK"
  readonly containerId: string
  /** The container's namespace path (`/var/run/netns/NAME`), or "" for a DEL after it is gone. */
  readonly netns: string
  readonly ifname?: string
  readonly args?: string
}

/** What one invocation returned, with what it was given (for messages) and how long it took. */
export interface CniOutcome extends CommandResult {
  readonly plugin: string
  readonly call: CniCall
  readonly stdin: string
  /** From spawning `ip netns exec` to the plugin's exit. */
  readonly wallMs: number
  /** When the plugin exited (ms since the epoch, fractional). */
  readonly endedAtMs: number
}

/** How to reproduce an outcome. */
export const describeCni = (outcome: CniOutcome): string =>
  `${outcome.plugin} ${outcome.call.command} ${outcome.call.containerId} (CNI_NETNS=${outcome.call.netns}) stdin ${outcome.stdin} -> exit ${outcome.code}, stdout ${JSON.stringify(outcome.stdout)}, stderr ${JSON.stringify(outcome.stderr.slice(0, 2000))}`

/**
 * Run the reference plugin `plugin` inside `node` (`ip netns exec`, which also gives it the node's
 * /sys) with `conf` on stdin; CNI_PATH is the reference plugins, then `ipamBinDir`.
 */
export const runCniPlugin = async (
  node: LabNode,
  plugin: string,
  ipamBinDir: string,
  call: CniCall,
  conf: object
): Promise<CniOutcome> => {
  const stdin = JSON.stringify(conf)
  const started = performance.now()
  const result = await node.exec(join(referencePluginDir, plugin), [], {
    stdin,
    env: {
      CNI_COMMAND: call.command,
      CNI_CONTAINERID: call.containerId,
      CNI_NETNS: call.netns,
      CNI_IFNAME: call.ifname ?? "eth0",
      CNI_ARGS: call.args ?? "",
      CNI_PATH: `${referencePluginDir}:${ipamBinDir}`
    },
    timeoutMs: 30_000
  })
  const endedAtMs = performance.timeOrigin + performance.now()
  return { ...result, plugin, call, stdin, wallMs: performance.now() - started, endedAtMs }
}
