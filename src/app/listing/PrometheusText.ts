// `list --prometheus`: the listing as node-exporter textfile metrics (gauges, one sample per line).
import type { AddOutcomeCounts } from "../../domain/AddOutcomes.ts"
import type { ClaimSummary } from "./ClaimListing.ts"
import type { NodeTotals, PoolTotals } from "./Capacity.ts"

/** The fabric as the health probe saw it (when fabric health is configured). */
export interface FabricSessions {
  readonly established: number
  readonly required: number
  readonly healthy: boolean
}

/** Everything the metrics are made of. */
export interface MetricsInput {
  /** The network's name; pools mode: "". */
  readonly network: string
  readonly pools: ReadonlyArray<PoolTotals>
  readonly nodes: ReadonlyArray<NodeTotals>
  readonly summary: ClaimSummary
  /** undefined: no fabric health configured (the metrics are left out); "error": the probe failed. */
  readonly fabric: FabricSessions | "error" | undefined
  /** The ADD outcome counters of each network on this node (`<dataDir>/<network>/.counters.json` and `.counters.d/`). */
  readonly addOutcomes?: ReadonlyArray<{ readonly network: string; readonly counts: AddOutcomeCounts }>
}

/** The `outcome` label of each counter of `routetable_ipam_add_outcomes_total`. */
const outcomeLabels: ReadonlyArray<readonly [keyof AddOutcomeCounts, string]> = [
  ["won", "won"],
  ["lostRaces", "lost_race"],
  ["refused", "refused"],
  ["exhausted", "exhausted"],
  ["tryAgainLater", "try_again_later"]
]

/** A label value as the exposition format wants it: backslash, quote and newline escaped. */
const labelValue = (text: string): string =>
  `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`

const labels = (pairs: Readonly<Record<string, string>>): string =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}=${labelValue(v)}`)
    .join(",")}}`

/**
 * The text format node-exporter's textfile collector reads: for each metric a HELP and a TYPE line,
 * then its samples. Every metric is prefixed `routetable_ipam_`; all are gauges of this node's view
 * except `add_outcomes_total`, a counter kept across plugin runs in the data directory.
 */
export const formatPrometheus = (input: MetricsInput): string => {
  const lines: Array<string> = []
  const metric = (
    name: string,
    help: string,
    samples: ReadonlyArray<readonly [Readonly<Record<string, string>>, number]>,
    type: "gauge" | "counter" = "gauge"
  ) => {
    lines.push(`# HELP routetable_ipam_${name} ${help}`, `# TYPE routetable_ipam_${name} ${type}`)
    for (const [l, value] of samples) lines.push(`routetable_ipam_${name}${labels(l)} ${value}`)
  }
  const network = { network: input.network }
  metric(
    "pool_addresses",
    "Allocatable addresses of the pool.",
    input.pools.map((p) => [{ ...network, pool: p.pool }, p.allocatable])
  )
  metric(
    "pool_addresses_in_use",
    'Addresses of the pool with a route, by where it points (where="here" or "elsewhere").',
    input.pools.flatMap((p) => [
      [{ ...network, pool: p.pool, where: "here" }, p.inUseHere] as const,
      [{ ...network, pool: p.pool, where: "elsewhere" }, p.inUseElsewhere] as const
    ])
  )
  metric(
    "node_addresses_in_use",
    'Addresses of the network routed to each node (node="this node" or its next hop; node_name its name when known, else "").',
    input.nodes.map((n) => [{ ...network, node: n.node, node_name: n.nodeName ?? "" }, n.addresses])
  )
  const s = input.summary
  metric("conflicts", "Addresses with more than one route (two nodes claim them).", [[network, s.conflicts]])
  metric("orphans", "Routes of ours that no owner record explains (gc releases them).", [
    [network, s.orphans]
  ])
  metric("missing", "Addresses an owner record names whose route of ours is gone.", [[network, s.missing]])
  metric("stale_records", "Addresses named only by records of before the last reboot.", [[network, s.stale]])
  metric("corrupt_records", "Addresses named by records moved aside as corrupt.", [[network, s.corrupt]])
  metric(
    "legacy",
    "Addresses held by a route of the original Go plugin on this node (migrate adopts them).",
    [[network, s.legacy]]
  )
  if (input.fabric !== undefined) {
    const f = input.fabric
    metric("fabric_probe_ok", "1 when the routing daemon answered the health probe.", [
      [network, f === "error" ? 0 : 1]
    ])
    if (f !== "error") {
      metric("fabric_sessions_up", "BGP sessions established.", [[network, f.established]])
      metric("fabric_sessions_required", "BGP sessions fabric health requires.", [[network, f.required]])
    }
  }
  if (input.addOutcomes !== undefined && input.addOutcomes.length > 0) {
    metric(
      "add_outcomes_total",
      "ADDs on this node by outcome (won, refused, exhausted = code 100, try_again_later = code 11); lost_race counts claim attempts lost to another node.",
      input.addOutcomes.flatMap(({ network, counts }) =>
        outcomeLabels.map(([key, outcome]) => [{ network, outcome }, counts[key]] as const)
      ),
      "counter"
    )
  }
  return `${lines.join("\n")}\n`
}
