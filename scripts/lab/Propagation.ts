// Measures how long a claim takes to reach the other nodes: kernel insert on one node -> BIRD route elsewhere.
import { setTimeout as sleep } from "node:timers/promises"
import type { Lab } from "./Cluster.ts"
import { runChecked } from "./Command.ts"
import { monitorRoutes, type RouteEvent, type RouteMonitor } from "./RouteMonitor.ts"

/** Delay statistics in milliseconds over every (route, receiving node) pair. */
export interface DelayStats {
  readonly samples: number
  readonly missing: number
  readonly medianMs: number
  readonly p95Ms: number
  readonly maxMs: number
}

/** One measurement: routes added one at a time (`sequential`) and all at once (`burst`). */
export interface PropagationReport {
  readonly nodes: number
  readonly family: 4 | 6
  readonly routes: number
  /** Each route on its own, `spacingMs` apart: the delay of a single claim. */
  readonly sequential: DelayStats
  /** All routes in one `ip -batch`: the delay of each, counted from the first insert. */
  readonly burst: DelayStats
}

const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

const stats = (delays: ReadonlyArray<number>, missing: number): DelayStats => {
  const sorted = [...delays].sort((a, b) => a - b)
  const round = (ms: number) => Math.round(ms * 100) / 100
  return {
    samples: sorted.length,
    missing,
    medianMs: round(quantile(sorted, 0.5)),
    p95Ms: round(quantile(sorted, 0.95)),
    maxMs: round(sorted.at(-1) ?? Number.NaN)
  }
}

const hostOf = (family: 4 | 6, base: number, index: number): string =>
  family === 4
    ? `100.64.${200 + Math.floor(index / 250)}.${(index % 250) + 1}`
    : `fd00:100::${(base + index).toString(16)}`

const firstAdd = (events: ReadonlyArray<RouteEvent>, host: string, protocol: string): number | undefined =>
  events.find(
    (event) => !event.deleted && event.route.startsWith(`${host} `) && event.route.includes(protocol)
  )?.atMicros

const delaysOf = (
  hosts: ReadonlyArray<string>,
  source: ReadonlyArray<RouteEvent>,
  receivers: ReadonlyArray<ReadonlyArray<RouteEvent>>,
  since: (host: string) => number | undefined
) => {
  const delays: Array<number> = []
  let missing = 0
  for (const host of hosts) {
    const start = since(host) ?? firstAdd(source, host, "proto")
    for (const events of receivers) {
      const seen = firstAdd(events, host, "proto bird")
      if (start === undefined || seen === undefined) missing++
      else delays.push((seen - start) / 1000)
    }
  }
  return { delays, missing }
}

const settle = async (
  monitors: ReadonlyArray<RouteMonitor>,
  hosts: ReadonlyArray<string>,
  timeoutMs: number
) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (monitors.every((monitor) => hosts.every((host) => firstAdd(monitor.events(), host, "proto bird"))))
      return
    await sleep(50)
  }
}

/** A report and the delays it was computed from (ms, one per route and receiving node that saw it). */
export interface PropagationSamples {
  readonly report: PropagationReport
  readonly delaysMs: { readonly sequential: ReadonlyArray<number>; readonly burst: ReadonlyArray<number> }
}

/** What `measurePropagation` is given. */
export interface PropagationOptions {
  readonly from?: number
  readonly routes?: number
  readonly family?: 4 | 6
  readonly spacingMs?: number
}

/**
 * Add `routes` host routes of our protocol on node `from`, watch every other node's kernel with
 * `ip -ts monitor route`, and report the delays; removes the routes afterwards.
 */
export const measurePropagation = async (
  lab: Lab,
  options: PropagationOptions = {}
): Promise<PropagationReport> => (await measurePropagationSamples(lab, options)).report

/** `measurePropagation`, keeping every delay (for a histogram). */
export const measurePropagationSamples = async (
  lab: Lab,
  options: PropagationOptions = {}
): Promise<PropagationSamples> => {
  const family = options.family ?? 4
  const count = options.routes ?? 50
  const source = lab.nodes[options.from ?? 0]
  if (source === undefined) throw new Error("no such source node")
  const others = lab.nodes.filter((node) => node !== source)
  const add = (host: string) => `route add ${host}/${family === 4 ? 32 : 128} dev pods0 proto 192 metric 4096`
  const del = (host: string) => `route del ${host}/${family === 4 ? 32 : 128} dev pods0 proto 192 metric 4096`
  const batch = (lines: ReadonlyArray<string>) =>
    runChecked("ip", ["-n", source.netns, `-${family}`, "-batch", "-"], { stdin: `${lines.join("\n")}\n` })

  const round = async (hosts: ReadonlyArray<string>, burst: boolean) => {
    const sourceMonitor = await monitorRoutes(source.netns)
    const monitors = await Promise.all(others.map((node) => monitorRoutes(node.netns)))
    if (burst) await batch(hosts.map(add))
    else {
      for (const host of hosts) {
        await batch([add(host)])
        await sleep(options.spacingMs ?? 20)
      }
    }
    await settle(monitors, hosts, 5_000)
    const sourceEvents = await sourceMonitor.stop()
    const received = await Promise.all(monitors.map((monitor) => monitor.stop()))
    await batch(hosts.map(del))
    const first = firstAdd(sourceEvents, hosts[0] ?? "", "proto")
    return delaysOf(hosts, sourceEvents, received, burst ? () => first : () => undefined)
  }

  const sequentialHosts = Array.from({ length: count }, (_, index) => hostOf(family, 0x1000, index))
  const burstHosts = Array.from({ length: count }, (_, index) => hostOf(family, 0x2000, index + count))
  const sequential = await round(sequentialHosts, false)
  const burst = await round(burstHosts, true)
  return {
    report: {
      nodes: lab.nodes.length,
      family,
      routes: count,
      sequential: stats(sequential.delays, sequential.missing),
      burst: stats(burst.delays, burst.missing)
    },
    delaysMs: { sequential: sequential.delays, burst: burst.delays }
  }
}
