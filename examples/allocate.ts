// Allocates and releases pod addresses through the library: in memory, or in the kernel's table of a private namespace.
//
//   node examples/allocate.ts                      # memory: nothing leaves this process
//   unshare -rn sh -c 'ip link set lo up && RTIPAM_NETNS_INITIAL=... node examples/allocate.ts netlink'
//
// Options: --subnet CIDR (default 100.64.0.0/24), --device NAME (netlink: where host routes point; default lo).
import { readlinkSync } from "node:fs"
import { parseArgs } from "node:util"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
// In an application these are "routetable-ipam", "routetable-ipam/netlink" and "routetable-ipam/testing".
import {
  Attach,
  type Attachments,
  ClaimPolicy,
  Ip,
  type Network,
  Pool,
  Route,
  RouteTable
} from "../src/index.ts"
import { NetlinkRouteTable } from "../src/netlink.ts"
import { MemoryAttachments, MemoryRouteTable } from "../src/testing.ts"

/** A network with one IPv4 pool over `subnet` and the default claim policy (W = 250 ms). */
export const makeNetwork = (subnet: string): Network | Pool.InvalidPool => {
  const pool = Pool.makePool("example", [{ subnet }])
  if (pool instanceof Pool.InvalidPool) return pool
  return { name: "example", pools: [pool], policy: ClaimPolicy.defaultClaimPolicy }
}

/** What the program did: who got which address, and our routes in the table during and after. */
export interface AllocationReport {
  readonly attached: ReadonlyArray<{ readonly owner: string; readonly addresses: ReadonlyArray<string> }>
  readonly routesWhileAttached: ReadonlyArray<string>
  readonly routesAfterDetach: ReadonlyArray<string>
}

const owners: ReadonlyArray<Attach.Owner> = [
  { containerId: "web-1", ifname: "eth0" },
  { containerId: "web-2", ifname: "eth0" }
]

/** Our host routes inside the network's subnets, one line each: "100.64.0.7/32 proto 192 metric 4096". */
const ourRoutes = (network: Network) =>
  Effect.gen(function* () {
    const table = yield* RouteTable
    const lines: Array<string> = []
    for (const pool of network.pools) {
      for (const subnet of Pool.subnetsOf(pool)) {
        for (const route of yield* table.hostRoutesIn(subnet)) {
          if (Route.isOurs(route)) {
            lines.push(
              `${Ip.formatCidr(Ip.hostPrefixOf(route.host))} proto ${route.protocol} metric ${route.metric}`
            )
          }
        }
      }
    }
    return lines
  })

/**
 * Attach two containers (concurrently: both wait W at the same time), then detach them. Needs the
 * two ports; which table they talk to is the caller's choice of layers.
 */
export const allocateAndRelease = (network: Network) =>
  Effect.gen(function* () {
    const attached = yield* Effect.forEach(
      owners,
      (owner) =>
        Attach.attach(network, owner, []).pipe(
          Effect.map((assigned) => ({
            owner: `${owner.containerId}/${owner.ifname}`,
            addresses: assigned.map((a) => `${Ip.formatIp(a.address)}/${a.range.subnet.length}`)
          }))
        ),
      { concurrency: "unbounded" }
    )
    const routesWhileAttached = yield* ourRoutes(network)
    yield* Effect.forEach(owners, (owner) => Attach.detach(network, owner, []))
    const routesAfterDetach = yield* ourRoutes(network)
    return { attached, routesWhileAttached, routesAfterDetach } satisfies AllocationReport
  })

/** Memory mode: a fresh table and store in this process. */
export const memoryLayer: Layer.Layer<RouteTable | Attachments> = Layer.mergeAll(
  MemoryRouteTable.layer(),
  MemoryAttachments.layer
)

/**
 * Netlink mode: the kernel's routing table of this process's network namespace. (A long-running
 * application would keep owner records with `FileAttachments.layer(dataDir)` from ./netlink.)
 */
export const netlinkLayer = (device: string) =>
  Layer.mergeAll(NetlinkRouteTable.layer({ device }), MemoryAttachments.layer)

const netnsOf = (path: string): string | undefined => {
  try {
    return readlinkSync(path)
  } catch {
    return undefined
  }
}

/**
 * Why this process must not touch routes, or undefined when it provably runs in a private network
 * namespace: not PID 1's (when readable), not the one named by RTIPAM_NETNS_INITIAL.
 */
export const sharedNamespaceProblem = (): string | undefined => {
  const self = netnsOf("/proc/self/ns/net")
  const initial = [netnsOf("/proc/1/ns/net"), process.env.RTIPAM_NETNS_INITIAL].filter(
    (ns): ns is string => ns !== undefined && ns !== ""
  )
  if (self === undefined) return "cannot read /proc/self/ns/net"
  if (initial.includes(self)) return `${self} is the host's network namespace`
  if (initial.length === 0) {
    return "cannot prove this is a private network namespace: set RTIPAM_NETNS_INITIAL=$(readlink /proc/self/ns/net) before unshare"
  }
  return undefined
}

const print = (mode: string, report: AllocationReport) =>
  Effect.gen(function* () {
    yield* Console.log(`mode: ${mode}`)
    for (const { owner, addresses } of report.attached) yield* Console.log(`${owner}: ${addresses.join(" ")}`)
    for (const line of report.routesWhileAttached) yield* Console.log(`route: ${line}`)
    yield* Console.log(`routes after detach: ${report.routesAfterDetach.length}`)
  })

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      subnet: { type: "string", default: "100.64.0.0/24" },
      device: { type: "string", default: "lo" }
    }
  })
  const mode = positionals[0] ?? "memory"
  const network = makeNetwork(values.subnet)
  const refusal =
    network instanceof Pool.InvalidPool
      ? `--subnet: ${network.message}`
      : mode === "memory"
        ? undefined
        : mode === "netlink"
          ? sharedNamespaceProblem()
          : `unknown mode ${JSON.stringify(mode)}: use memory or netlink`
  if (refusal !== undefined || network instanceof Pool.InvalidPool) {
    console.error(`allocate: ${refusal}`)
    process.exitCode = 2
  } else {
    const layer = mode === "netlink" ? netlinkLayer(values.device) : memoryLayer
    NodeRuntime.runMain(
      allocateAndRelease(network).pipe(
        Effect.flatMap((report) => print(mode, report)),
        Effect.provide(layer)
      )
    )
  }
}
