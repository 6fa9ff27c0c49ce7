// Debian's CNI `bridge` plugin as a real client of ours: run in a host namespace, delegating IPAM to the bundle.
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import type { Netns } from "../../support/Netns.ts"
import { nodeBinary, type PluginRun, pluginFile } from "./BuiltPlugin.ts"

/** Where Debian's containernetworking-plugins puts the bridge plugin. */
export const bridgePlugin = "/usr/lib/cni/bridge"

/** Whether the bridge plugin is installed (`apt-get install containernetworking-plugins`). */
export const hasBridgePlugin = (): boolean => existsSync(bridgePlugin)

/** The `ipam.type` the bridge looks up on CNI_PATH. */
export const ipamType = "routetable-ipam"

/**
 * A temporary directory holding `routetable-ipam`: a shell wrapper that runs the bundle with the
 * project's Node 24 (the bundle's shebang would find the system node). Returns the directory.
 */
export const makeIpamBinDir = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), "rtipam-cni-bin-"))
  const wrapper = path.join(dir, ipamType)
  writeFileSync(wrapper, `#!/bin/sh\nexec '${nodeBinary}' '${pluginFile}' "$@"\n`)
  chmodSync(wrapper, 0o755)
  return dir
}

/** What one bridge invocation needs besides its config. */
export interface BridgeCall {
  readonly command: "ADD" | "CHECK" | "DEL"
  readonly containerId: string
  /** The container's namespace path, or "" (DEL after the container is gone). */
  readonly netns: string
  readonly ipamBinDir: string
}

/**
 * Run the bridge plugin in `host` with `conf` on stdin. It runs in a private mount namespace with
 * a fresh sysfs (as `ip netns exec` does), so /sys/class/net shows the host namespace's links, not
 * the test runner's.
 */
export const runBridge = async (host: Netns, call: BridgeCall, conf: object): Promise<PluginRun> => {
  const env = {
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: "eth0",
    CNI_ARGS: "",
    CNI_PATH: `/usr/lib/cni:${call.ipamBinDir}`
  }
  const stdin = JSON.stringify(conf)
  const script = 'mount -t sysfs sysfs /sys && exec "$@"'
  const result = await host.exec(
    "unshare",
    ["-m", "--propagation", "private", "sh", "-c", script, "sh", bridgePlugin],
    { env, stdin, timeoutMs: 30_000 }
  )
  return { ...result, env, stdin }
}

/** The IPv4 addresses ("a.b.c.d/len") on `ifname` in `ns`. */
export const addressesOn = async (ns: Netns, ifname: string): Promise<ReadonlyArray<string>> => {
  const out = await ns.run("ip", ["-j", "-4", "addr", "show", "dev", ifname])
  const links = JSON.parse(out) as ReadonlyArray<{
    addr_info?: ReadonlyArray<{ local: string; prefixlen: number }>
  }>
  return links.flatMap((link) => (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`))
}
