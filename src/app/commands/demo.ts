// `routetable-ipam demo`: a 3-node cluster with pods through the real plugin (root), one throwaway namespace, or a simulation.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { CommandFailed, type OperatorCommand } from "../OperatorCommand.ts"

const usage = `Usage: routetable-ipam demo [--topology routed|overlay | --namespace | --simulate]

As root, run from the repository (npm run demo), with BIRD 2, ping and Debian's CNI plugins
installed: builds a 3-node cluster out of network namespaces (one BIRD each, iBGP full mesh),
starts two pods per node through Debian's bridge plugin with this very executable as the IPAM,
and prints who got which address on which node, what each node's routing table learned, and a
ping matrix between all pods. Then it tears everything down; the host's own network is never
touched. --topology overlay joins the nodes' bridges over vxlan instead of routing between them.

--namespace: the one-node demo (root or not, where \`unshare -rn\` works): three dual-stack ADDs in
a throwaway namespace, the host routes they left, a CHECK, a requested address that is taken
(code 101), then DEL of everything.

Without root (or with --simulate) it runs a small simulated cluster instead:
20 nodes x 10 allocations in a /24 with 0-40 ms propagation delay and W = 100 ms.
`

const insideFlag = "--inside-private-namespace"

/** The command line that runs this executable again: the SEA binary alone, or node + the bundle. */
const self = (): ReadonlyArray<string> => {
  const script = process.argv[1]
  const isSea = script === undefined || path.resolve(script) === process.execPath
  return isSea ? [process.execPath] : [process.execPath, ...process.execArgv, script]
}

const netnsOf = (pid: string): string | undefined => {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`)
  } catch {
    return undefined
  }
}

const config = (dataDir: string) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "demo",
    type: "routetable-ipam",
    ipam: {
      type: "routetable-ipam",
      ranges: [[{ subnet: "100.64.0.0/24", gateway: "100.64.0.1" }], [{ subnet: "fd00:64::/120" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      propagationTimeout: "100ms",
      dataDir
    }
  })

/** Run the plugin (this executable in CNI mode) once. */
const plugin = (
  command: string,
  containerId: string,
  stdin: string,
  extraEnv: Record<string, string> = {}
) => {
  const [file, ...args] = self()
  const result = spawnSync(file!, args, {
    input: stdin,
    env: {
      ...process.env,
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: "/proc/self/ns/net",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/opt/cni/bin",
      ...extraEnv
    },
    encoding: "utf8"
  })
  return { code: result.status ?? 1, stdout: result.stdout.trim() }
}

const ipRoutes = (family: "-4" | "-6") =>
  spawnSync("ip", [family, "route", "show", "proto", "192"], { encoding: "utf8" }).stdout.trim()

/** The part that runs inside the private namespace. */
const inside = Effect.gen(function* () {
  const expected = process.env.RTIPAM_DEMO_PARENT_NETNS
  const here = netnsOf("self")
  if (expected === undefined || here === undefined || here === expected) {
    return yield* new CommandFailed({
      message: "refusing to run: not inside a private network namespace",
      exitCode: 1
    })
  }
  spawnSync("ip", ["link", "set", "lo", "up"])
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "routetable-ipam-demo-"))
  try {
    const conf = config(dataDir)
    yield* Console.log(`In a throwaway network namespace (${here}), the real plugin with:\n  ${conf}\n`)
    for (const id of ["web-1", "web-2", "db-1"]) {
      const add = plugin("ADD", id, conf)
      yield* Console.log(`ADD ${id.padEnd(6)} -> exit ${add.code}  ${add.stdout}`)
    }
    yield* Console.log(`\nHost routes with protocol 192 now in this namespace's table (one per address):`)
    yield* Console.log(`${ipRoutes("-4")}\n${ipRoutes("-6")}`.replace(/^/gm, "  "))
    const first = JSON.parse(plugin("ADD", "web-1", conf).stdout) as { ips: Array<{ address: string }> }
    const check = plugin(
      "CHECK",
      "web-1",
      JSON.stringify({ ...JSON.parse(conf), prevResult: { ips: first.ips } })
    )
    yield* Console.log(
      `\nCHECK web-1 -> exit ${check.code}${check.stdout === "" ? " (all routes in place)" : `  ${check.stdout}`}`
    )
    const taken = first.ips[0]!.address.split("/")[0]!
    const clash = plugin("ADD", "intruder", conf, { CNI_ARGS: `IP=${taken}` })
    yield* Console.log(`ADD intruder requesting ${taken} -> exit ${clash.code}  ${clash.stdout}`)
    for (const id of ["web-1", "web-2", "db-1"]) {
      const del = plugin("DEL", id, conf)
      yield* Console.log(`DEL ${id.padEnd(6)} -> exit ${del.code}`)
    }
    const left = `${ipRoutes("-4")}${ipRoutes("-6")}`
    yield* Console.log(`\nRoutes with protocol 192 left: ${left === "" ? "none" : left}`)
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
})

/** A small simulated cluster, for machines where no namespace can be made. */
const simulated = (why: string) =>
  Effect.gen(function* () {
    yield* Console.log(`${why}: running a simulated cluster.\n`)
    const simulate = yield* Effect.promise(() => import("./simulate.ts"))
    yield* simulate.command.run([
      "--nodes",
      "20",
      "--per-node",
      "10",
      "--pool",
      "100.64.0.0/24",
      "--delay",
      "0-40ms",
      "--wait",
      "100ms"
    ])
  })

/** Whether an executable of this name is on PATH. */
const hasCommand = (name: string): boolean =>
  spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" }).status === 0

/**
 * The lab's cluster demo (scripts/lab/pods.ts) beside this bundle, run with this Node, or why it
 * cannot run here: it is part of the repository, not of the shipped executable.
 */
const clusterDemo = (): { readonly script: string } | { readonly missing: string } => {
  const [file, ...rest] = self()
  const bundle = rest.at(-1)
  if (bundle === undefined)
    return { missing: "the single executable carries no lab (run npm run demo in the repository)" }
  const script = path.resolve(path.dirname(bundle), "../scripts/lab/pods.ts")
  const missing = [
    fs.existsSync(script) ? undefined : `the lab (${script})`,
    ...["bird", "birdc", "ping"].map((name) => (hasCommand(name) ? undefined : name)),
    fs.existsSync("/usr/lib/cni/bridge") ? undefined : "Debian's bridge plugin (/usr/lib/cni/bridge)"
  ].filter((item) => item !== undefined)
  return missing.length === 0 && file !== undefined
    ? { script }
    : { missing: `missing ${missing.join(", ")}` }
}

const isRoot = (): boolean => process.getuid?.() === 0

/** The one-namespace demo, where a private namespace can be made. */
const namespaceDemo = Effect.gen(function* () {
  const canUnshare = spawnSync("unshare", ["-rn", "true"], { stdio: "ignore" }).status === 0
  if (!canUnshare)
    return yield* simulated("no private network namespace can be made here (unshare -rn failed)")
  const parent = netnsOf("self") ?? ""
  const result = spawnSync("unshare", ["-rn", ...self(), "demo", insideFlag], {
    stdio: "inherit",
    env: { ...process.env, RTIPAM_DEMO_PARENT_NETNS: parent }
  })
  if (result.status !== 0) {
    return yield* new CommandFailed({ message: `demo failed (exit ${result.status})`, exitCode: 1 })
  }
})

const topologies = ["routed", "overlay"] as const

const run = (args: ReadonlyArray<string>): Effect.Effect<void, CommandFailed> =>
  Effect.gen(function* () {
    if (args.includes("--help")) return yield* Console.log(usage)
    if (args.includes(insideFlag)) return yield* inside
    const topologyAt = args.indexOf("--topology")
    const topology = topologyAt === -1 ? "routed" : args[topologyAt + 1]
    const rest = args.filter(
      (arg, at) => arg !== "--simulate" && arg !== "--namespace" && at !== topologyAt && at !== topologyAt + 1
    )
    if (rest.length > 0) {
      return yield* new CommandFailed({ message: `unknown argument ${rest[0]}\n\n${usage}`, exitCode: 2 })
    }
    if (!topologies.some((known) => known === topology)) {
      return yield* new CommandFailed({
        message: `--topology: expected routed or overlay\n\n${usage}`,
        exitCode: 2
      })
    }
    if (args.includes("--simulate")) return yield* simulated("--simulate given")
    if (args.includes("--namespace")) return yield* namespaceDemo
    if (!isRoot()) {
      return yield* simulated(
        "the cluster demo needs root (`demo --namespace` runs the real plugin in one private namespace)"
      )
    }
    const cluster = clusterDemo()
    if ("missing" in cluster) {
      yield* Console.log(
        `The cluster demo cannot run here (${cluster.missing}): the one-namespace demo instead.\n`
      )
      return yield* namespaceDemo
    }
    const result = spawnSync(
      process.execPath,
      [cluster.script, "demo", "--topology", topology ?? "routed", "--ipam-json", JSON.stringify(self())],
      { stdio: "inherit" }
    )
    if (result.status !== 0) {
      return yield* new CommandFailed({ message: `cluster demo failed (exit ${result.status})`, exitCode: 1 })
    }
  })

/** The demo command. */
export const command: OperatorCommand = {
  name: "demo",
  summary:
    "pods on a 3-node cluster of namespaces through the real plugin (root), or one namespace, or a simulation",
  usage,
  run
}
