// The single executable, copied alone and run with no `node` on PATH: VERSION, ADD, CHECK, DEL, and as the IPAM of Debian's bridge.
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { findPostject } from "../../scripts/build-sea.ts"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, isRoot, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
  assertQuietSuccess,
  describeRun,
  hostOf,
  nodeBinary,
  type PluginEnv,
  type PluginRun,
  projectRoot,
  stdoutJson
} from "./support/BuiltPlugin.ts"
import { addressesOn, bridgePlugin, hasBridgePlugin, ipamType } from "./support/BridgeClient.ts"
import { assertOurRoutes } from "./support/KernelRoutes.ts"
import { filesUnder, makeDataDir, netConf, removeDataDir } from "./support/PluginConfig.ts"
import { inSandbox } from "./support/Sandbox.ts"

/** What `npm run build:sea` writes. */
const seaFile = path.join(projectRoot, "dist/routetable-ipam-linux-x64")

/** Newest modification time (ms) of the files the executable is built from. */
const newestSource = (): number => {
  const files = [
    ...fs
      .readdirSync(path.join(projectRoot, "src"), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name)),
    path.join(projectRoot, "scripts/build.ts"),
    path.join(projectRoot, "scripts/build-sea.ts"),
    path.join(projectRoot, "package-lock.json")
  ]
  return Math.max(...files.filter((f) => fs.existsSync(f)).map((f) => fs.statSync(f).mtimeMs))
}

/** Build the executable unless it exists and is newer than every source; returns the build's duration (0: reused). */
const ensureSea = (): number => {
  if (fs.existsSync(seaFile) && fs.statSync(seaFile).mtimeMs >= newestSource()) return 0
  const started = performance.now()
  execFileSync(nodeBinary, [path.join(projectRoot, "scripts/build-sea.ts")], {
    cwd: projectRoot,
    stdio: ["ignore", "pipe", "pipe"]
  })
  return performance.now() - started
}

/**
 * A directory of symlinks to the few tools the namespaces need (nsenter, unshare, sh, mount), to
 * be the whole PATH: the system node lives in /usr/bin, so no standard PATH is free of it.
 */
const makeToolsDir = (dir: string): string => {
  const tools = path.join(dir, "tools")
  fs.mkdirSync(tools)
  for (const tool of ["nsenter", "unshare", "sh", "mount"]) {
    const found = spawnSync("sh", ["-c", 'command -v "$1"', "sh", tool], { encoding: "utf8" }).stdout.trim()
    if (found === "") throw new Error(`${tool} is not on PATH`)
    fs.symlinkSync(found, path.join(tools, tool))
  }
  return tools
}

/** Where the test keeps the executable (alone, named as the bridge looks it up), its PATH and its TMPDIR. */
interface Install {
  readonly root: string
  /** Holds only `routetable-ipam`. */
  readonly binDir: string
  readonly sea: string
  /** The only PATH given to anything started here. */
  readonly path: string
  /** TMPDIR of the executable: the addon's one kept copy lives in a 0700 directory under it. */
  readonly tmp: string
}

const install = (): Install => {
  const root = fs.mkdtempSync(path.join(tmpdir(), "rtipam-e2e-sea-"))
  const binDir = path.join(root, "bin")
  fs.mkdirSync(binDir)
  const sea = path.join(binDir, ipamType)
  fs.copyFileSync(seaFile, sea)
  fs.chmodSync(sea, 0o755)
  const tmp = path.join(root, "tmp")
  fs.mkdirSync(tmp)
  return { root, binDir, sea, path: makeToolsDir(root), tmp }
}

/**
 * Run `command` in `ns` with exactly `env` (plus PATH and TMPDIR of `where`), nothing inherited:
 * `env -i` inside the namespace, so not even the test runner's variables reach it.
 */
const execClean = (
  ns: Netns,
  where: Install,
  command: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  stdin: string
) => {
  const assignments = Object.entries({ ...env, PATH: where.path, TMPDIR: where.tmp }).map(
    ([k, v]) => `${k}=${v}`
  )
  return ns.exec("/usr/bin/env", ["-i", ...assignments, ...command], {
    env: { PATH: where.path },
    stdin,
    timeoutMs: 30_000
  })
}

/** One CNI invocation of the executable in `ns`, with the runtime's variables and nothing else. */
const runSea = async (
  ns: Netns,
  where: Install,
  env: PluginEnv,
  conf: string | object
): Promise<PluginRun> => {
  const stdin = typeof conf === "string" ? conf : JSON.stringify(conf)
  const full = {
    CNI_CONTAINERID: "",
    CNI_IFNAME: "",
    CNI_NETNS: "",
    CNI_ARGS: "",
    CNI_PATH: where.binDir,
    ...env
  }
  const result = await execClean(ns, where, [where.sea], full, stdin)
  return { ...result, env, stdin }
}

const hasPostject = findPostject() !== undefined
let sea: Install | undefined
let buildMillis = 0

beforeAll(() => {
  if (!canUnshareNet() || !hasPostject) return
  buildMillis = ensureSea()
  if (buildMillis > 0) console.info(`built ${seaFile} in ${(buildMillis / 1000).toFixed(1)} s`)
  sea = install()
}, 180_000)

afterAll(() => {
  if (sea !== undefined) fs.rmSync(sea.root, { recursive: true, force: true })
})

const where = (): Install => {
  assert.isDefined(sea, "the executable was not installed")
  return sea!
}

privileged(
  "needs `unshare -rn` and postject (devDependency postject@1.0.0-alpha.6)",
  canUnshareNet() && hasPostject
)("the single executable with no node on PATH", () => {
  it("its PATH holds no node, and it is alone in its directory", () => {
    const w = where()
    const lookup = spawnSync("/bin/sh", ["-c", "command -v node"], {
      env: { PATH: w.path },
      encoding: "utf8"
    })
    assert.strictEqual(lookup.stdout, "", "node must not be found on the executable's PATH")
    assert.notStrictEqual(lookup.status, 0)
    assert.deepStrictEqual(fs.readdirSync(w.binDir), [ipamType])
  })

  it(
    "VERSION, then ADD (IPv4 + IPv6), CHECK, DEL in a private namespace: routes appear and disappear",
    inSandbox(async ({ ns, dataDir }) => {
      const w = where()
      const version = await runSea(ns, w, { CNI_COMMAND: "VERSION" }, { cniVersion: "1.0.0" })
      assert.strictEqual(version.code, 0, describeRun(version))
      const supported = stdoutJson(version).supportedVersions
      assert.includeMembers(
        supported as Array<string>,
        ["0.3.1", "0.4.0", "1.0.0", "1.1.0"],
        describeRun(version)
      )

      const conf = netConf("1.0.0", dataDir, {
        ranges: [[{ subnet: "100.64.0.0/24" }], [{ subnet: "fd00:64::/120" }]]
      })
      const env = (command: "ADD" | "CHECK" | "DEL"): PluginEnv => ({
        CNI_COMMAND: command,
        CNI_CONTAINERID: "sea1",
        CNI_IFNAME: "eth0",
        CNI_NETNS: ns.path
      })
      const added = await runSea(ns, w, env("ADD"), conf)
      const ips = assertAdded(added, "1.0.0")
      assert.lengthOf(ips, 2, describeRun(added))
      assert.match(ips[0]!.address, /^100\.64\.0\.\d+\/24$/)
      assert.match(ips[1]!.address, /^fd00:64::[0-9a-f]+\/120$/)
      await assertOurRoutes(ns, ips.map(hostOf))
      assert.lengthOf(filesUnder(dataDir), 1)

      const withPrev = { ...conf, prevResult: stdoutJson(added) }
      assertQuietSuccess(await runSea(ns, w, env("CHECK"), withPrev))
      assertQuietSuccess(await runSea(ns, w, env("DEL"), withPrev))
      await assertOurRoutes(ns, [])
      assert.deepStrictEqual(filesUnder(dataDir), [])
      // the addon's one kept copy: a 0700 directory of the euid holding one file, reused by every call
      const kept = fs.readdirSync(w.tmp)
      assert.deepStrictEqual(kept, [`routetable-ipam-addon-${process.geteuid?.() ?? 0}`])
      const keptDir = path.join(w.tmp, kept[0] ?? "")
      assert.strictEqual(fs.statSync(keptDir).mode & 0o777, 0o700)
      assert.lengthOf(fs.readdirSync(keptDir), 1)
    })
  )
})

privileged(
  "needs root, `unshare -rn`, postject and Debian's bridge plugin (`apt-get install containernetworking-plugins`)",
  isRoot() && canUnshareNet() && hasPostject && hasBridgePlugin()
)("the single executable as the IPAM of Debian's bridge plugin, no node on PATH", () => {
  /** The bridge's network config; addresses from 100.64.1.0/24, gateway on cni0. */
  const bridgeConf = (dataDir: string) => ({
    cniVersion: "1.0.0",
    name: "e2e-sea-bridge",
    type: "bridge",
    bridge: "cni0",
    isGateway: true,
    ipam: {
      type: ipamType,
      ranges: [[{ subnet: "100.64.1.0/24", gateway: "100.64.1.1" }]],
      device: "cni0",
      dataDir,
      propagationTimeout: "20ms"
    }
  })

  /** The bridge in `host` (private mount namespace with a fresh sysfs, as BridgeClient does), clean env. */
  const runBridge = async (host: Netns, command: "ADD" | "DEL", netns: string, conf: object) => {
    const w = where()
    const env = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: "seabr1",
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_ARGS: "",
      CNI_PATH: `/usr/lib/cni:${w.binDir}`
    }
    const stdin = JSON.stringify(conf)
    const script = 'mount -t sysfs sysfs /sys && exec "$@"'
    const result = await execClean(
      host,
      w,
      ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", bridgePlugin],
      env,
      stdin
    )
    return { ...result, env: env as PluginEnv, stdin }
  }

  it("ADD puts our address on the container's eth0 and our route on cni0; DEL removes the route", async () => {
    const host = await Netns.create()
    const dataDir = makeDataDir()
    try {
      const container = await host.createChild()
      const conf = bridgeConf(dataDir)
      const added = await runBridge(host, "ADD", container.path, conf)
      assert.strictEqual(added.code, 0, describeRun(added))
      const ips = (stdoutJson(added).ips ?? []) as ReadonlyArray<{ address: string }>
      assert.lengthOf(ips, 1, describeRun(added))
      const address = ips[0]!.address
      assert.match(address, /^100\.64\.1\.\d+\/24$/)
      assert.notStrictEqual(address, "100.64.1.1/24", "the gateway is never handed out")
      assert.deepStrictEqual(await addressesOn(container, "eth0"), [address], "the container's eth0")
      await assertOurRoutes(host, [address.slice(0, address.indexOf("/"))], "cni0")
      assert.lengthOf(filesUnder(dataDir), 1)

      assertQuietSuccess(
        await runBridge(host, "DEL", container.path, { ...conf, prevResult: stdoutJson(added) })
      )
      await assertOurRoutes(host, [], "cni0")
      assert.deepStrictEqual(filesUnder(dataDir), [])
    } finally {
      await host.close()
      removeDataDir(dataDir)
    }
  })
})
