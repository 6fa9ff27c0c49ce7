// `routetable-ipam demo`: the real plugin allocating in a throwaway network namespace (or a simulated cluster).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { CommandFailed, type OperatorCommand } from "../OperatorCommand.ts"

const usage = `Usage: routetable-ipam demo [--simulate]

Shows the plugin doing its job with no setup. Where a private network namespace can be made
(\`unshare -rn\`, root or not), it runs this very executable as a CNI plugin inside a throwaway
namespace: three dual-stack ADDs, the host routes they left in that namespace's table, a CHECK,
a requested address that is taken (code 101), then DEL of everything. The namespace disappears
when the demo ends; the host's own routing table is never touched.

Without namespaces (or with --simulate) it runs a small simulated cluster instead:
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

const run = (args: ReadonlyArray<string>): Effect.Effect<void, CommandFailed> =>
  Effect.gen(function* () {
    if (args.includes("--help")) return yield* Console.log(usage)
    if (args.includes(insideFlag)) return yield* inside
    const unknown = args.filter((a) => a !== "--simulate")
    if (unknown.length > 0) {
      return yield* new CommandFailed({ message: `unknown argument ${unknown[0]}\n\n${usage}`, exitCode: 2 })
    }
    const canUnshare = spawnSync("unshare", ["-rn", "true"], { stdio: "ignore" }).status === 0
    if (args.includes("--simulate")) return yield* simulated("--simulate given")
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

/** The demo command. */
export const command: OperatorCommand = {
  name: "demo",
  summary: "allocate through the real plugin in a throwaway network namespace (or simulate a cluster)",
  usage,
  run
}
