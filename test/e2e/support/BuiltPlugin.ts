// Runs the built executable dist/routetable-ipam with the project's Node 24 inside a test namespace.
import { existsSync } from "node:fs"
import * as path from "node:path"
import { assert } from "@effect/vitest"
import type { ExecResult, Netns } from "../../support/Netns.ts"

/** Repository root (this file lives in test/e2e/support/). */
export const projectRoot = path.resolve(import.meta.dirname, "../../..")

/** The bundle `npm run build` writes. */
export const pluginFile = path.join(projectRoot, "dist/routetable-ipam")

/** The project's Node 24 (the system node may be older). */
export const nodeBinary = path.join(projectRoot, "node_modules/.bin/node")

/** Whether the bundle exists; the suites fail with a hint when it does not. */
export const pluginBuilt = (): boolean => existsSync(pluginFile)

/** Fail (with what to do) unless the bundle exists. */
export const assertPluginBuilt = (): void => {
  assert.isTrue(pluginBuilt(), `${pluginFile} is missing: run \`npm run build\` first`)
}

/** The CNI environment of one invocation; unset keys are passed as "" (which the plugin treats as unset). */
export interface PluginEnv {
  readonly CNI_COMMAND: string
  readonly CNI_CONTAINERID?: string
  readonly CNI_IFNAME?: string
  readonly CNI_NETNS?: string
  readonly CNI_ARGS?: string
  readonly CNI_PATH?: string
}

/** One finished invocation: exit code, stdout, stderr, and what it was given (for messages). */
export interface PluginRun extends ExecResult {
  readonly env: PluginEnv
  readonly stdin: string
}

/** Env for ADD/DEL/CHECK of container `containerId` on eth0; the namespace path stands in for CNI_NETNS. */
export const attachmentEnv = (
  ns: Netns,
  command: "ADD" | "DEL" | "CHECK",
  containerId: string,
  extra?: Partial<PluginEnv>
): PluginEnv => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: containerId,
  CNI_IFNAME: "eth0",
  CNI_NETNS: ns.path,
  ...extra
})

const fullEnv = (env: PluginEnv): Record<string, string> => ({
  CNI_CONTAINERID: "",
  CNI_IFNAME: "",
  CNI_NETNS: "",
  CNI_ARGS: "",
  CNI_PATH: path.dirname(pluginFile),
  ...env
})

/** Run the plugin once in `ns` with `env` and `stdin` (a config object is JSON-encoded). */
export const runPlugin = async (ns: Netns, env: PluginEnv, stdin: string | object): Promise<PluginRun> => {
  const text = typeof stdin === "string" ? stdin : JSON.stringify(stdin)
  const result = await ns.exec(nodeBinary, [pluginFile], {
    env: fullEnv(env),
    stdin: text,
    timeoutMs: 30_000
  })
  return { ...result, env, stdin: text }
}

/**
 * Run the plugin in `ns` inside a private mount namespace whose /var/lib/cni is `dataDir`: for the
 * original CNI_ARGS interface (empty stdin), which can only use the default dataDir
 * /var/lib/cni/routetable-ipam. Nothing is written to the host's /var/lib.
 */
export const runPluginWithDefaultDataDir = async (
  ns: Netns,
  env: PluginEnv,
  stdin: string,
  dataDir: string
): Promise<PluginRun> => {
  const script =
    'mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/cni && mount --bind "$1" /var/lib/cni && shift && exec "$@"'
  const result = await ns.exec(
    "unshare",
    ["-m", "--propagation", "private", "sh", "-c", script, "sh", dataDir, nodeBinary, pluginFile],
    { env: fullEnv(env), stdin, timeoutMs: 30_000 }
  )
  return { ...result, env, stdin }
}

/** How to reproduce a run, for assertion messages. */
export const describeRun = (run: PluginRun): string =>
  `env ${JSON.stringify(run.env)} stdin ${run.stdin} -> exit ${run.code}, stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr.slice(0, 2000))}`

/** The single JSON document on stdout (fails when stdout holds anything else). */
export const stdoutJson = (run: PluginRun): Record<string, unknown> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(run.stdout)
  } catch {
    assert.fail(`stdout is not exactly one JSON document: ${describeRun(run)}`)
  }
  assert.isObject(parsed, describeRun(run))
  return parsed as Record<string, unknown>
}

/** Assert the run succeeded with empty stdout (DEL, CHECK, GC, STATUS). */
export const assertQuietSuccess = (run: PluginRun): void => {
  assert.strictEqual(run.code, 0, describeRun(run))
  assert.strictEqual(run.stdout, "", describeRun(run))
}

/** Assert the run failed with CNI error `code` (exit status = code) and return the error object. */
export const assertCniError = (run: PluginRun, code: number): Record<string, unknown> => {
  assert.strictEqual(run.code, code, describeRun(run))
  const error = stdoutJson(run)
  assert.strictEqual(error.code, code, describeRun(run))
  assert.isString(error.msg, describeRun(run))
  assert.isString(error.cniVersion, describeRun(run))
  return error
}

/** One `ips[]` entry of a result. */
export interface ResultIp {
  readonly version?: string
  readonly address: string
  readonly gateway?: string
}

/** Assert the run is a successful ADD and return its result's ips. */
export const assertAdded = (run: PluginRun, cniVersion: string): ReadonlyArray<ResultIp> => {
  assert.strictEqual(run.code, 0, describeRun(run))
  const result = stdoutJson(run)
  assert.strictEqual(result.cniVersion, cniVersion, describeRun(run))
  assert.isArray(result.ips, describeRun(run))
  assert.notProperty(result, "interfaces", describeRun(run))
  return result.ips as ReadonlyArray<ResultIp>
}

/** The address of an `ips[]` entry without its prefix length. */
export const hostOf = (ip: ResultIp): string => ip.address.slice(0, ip.address.indexOf("/"))
