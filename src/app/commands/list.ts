// `routetable-ipam list`: every claim inside a network's ranges as this node's table shows it, with owners and conflicts.
import * as Fs from "node:fs/promises"
import { Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as FileAddOutcomes from "../../adapters/FileAddOutcomes.ts"
import * as FileAttachments from "../../adapters/FileAttachments.ts"
import { defaultHostsFile, readNodeNames } from "../../adapters/names/HostsFile.ts"
import { readProtocolNames } from "../../adapters/names/RtProtos.ts"
import { netlinkRouteTable } from "../plugin/PluginAdapters.ts"
import {
  type FabricHealthSettings,
  knobDefaults,
  parseRouteProtocol,
  parseTable
} from "../../adapters/cni/IpamKnobs.ts"
import type { Attachment, QuarantinedRecord } from "../../domain/Attachments.ts"
import { type Cidr, contains, formatCidr, type Ip, parseCidr, parseIp, sizeOf } from "../../domain/Ip.ts"
import { InvalidPool, isAllocatable, makePool, type Pool, subnetsOf } from "../../domain/Pool.ts"
import { RouteTable } from "../../domain/RouteTable.ts"
import { formatHolder, holderOf, holderToJson } from "../listing/AddressHolder.ts"
import {
  type CountedPool,
  formatTotals,
  nodeTotals,
  nodeTotalsToJson,
  poolTotals
} from "../listing/Capacity.ts"
import { type DeviceNames, formatTable, listClaims, listingToJson } from "../listing/ClaimListing.ts"
import { type ListingNames, protocolNamesWithOurs } from "../listing/ListingNames.ts"
import { type FabricSessions, formatPrometheus } from "../listing/PrometheusText.ts"
import { CommandFailed } from "../OperatorCommand.ts"
import { configFlag, helpText, jsonFlag, networkFlag, switchFlag } from "./CliFlags.ts"
import { readNetworkSettings } from "./NetworkConfigSource.ts"

const description = `Show every host route inside a network's subnets as this node's routing table has it: the
address, whether the claim is ours (our route protocol, table and metric) or learned (from a
routing daemon, i.e. another node's claim, or any other route), the next hop (the node holding
it), protocol, metric, device, the owner (container ID / interface, from the attachment records
in the data directory) and problems:
  conflict   more than one route to the address (two nodes claim it)
  orphan     a route of ours without an owner record (GC releases it)
  missing    an owner record names the address but our route is gone (or an ADD is in progress)
  stale      only a record of before the last reboot names it (DEL or gc forgets that record)
  corrupt    a record moved aside as corrupt names it (held until an operator removes the file)
  legacy     a route of the original Go plugin on this node holds it (metric 0, IPv6 1024): held,
             never deleted by DEL or gc; \`routetable-ipam migrate\` adopts it
Under the claims: totals per pool (allocatable, in use here, in use elsewhere, free %) and per
node (next hop as a node name from --node-names, default /etc/hosts; route protocols by their
iproute2 name, ours as "routetable-ipam" unless rt_protos names its number). --ip ADDR answers
for one address; --prometheus prints node-exporter textfile metrics. Give --config FILE|DIR, or --pool CIDR (repeatable) with --protocol/--table/--metric/--data-dir.
The exit status is 0 whatever the listing shows; use --json and its "summary" in scripts.`

/** What to list and where "ours" and the owners come from. */
interface ListTarget {
  readonly network: string | undefined
  readonly subnets: ReadonlyArray<Cidr>
  /** The pools whose totals are printed. */
  readonly pools: ReadonlyArray<CountedPool>
  readonly fabricHealth: FabricHealthSettings
  readonly protocol: number
  readonly table: number
  readonly metric: number
  readonly device: string | number | undefined
  readonly dataDir: string
  /** Networks whose owner records count; undefined: every network under dataDir. */
  readonly recordNetworks: ReadonlyArray<string> | undefined
}

interface Flags {
  readonly config: string | undefined
  readonly network: string | undefined
  readonly pools: ReadonlyArray<string>
  readonly protocol: number | undefined
  readonly table: string | undefined
  readonly metric: number | undefined
  readonly dataDir: string | undefined
}

const usageError = (message: string) =>
  new CommandFailed({ message: `${message}\nRun 'routetable-ipam list --help' for usage.`, exitCode: 2 })

const failed = (message: string) => new CommandFailed({ message, exitCode: 1 })

/** Strip the plugin's "ipam.x: " prefix and name the flag instead. */
const flagMessage = (flag: string, msg: string) => `${flag}: ${msg.replace(/^ipam\.[A-Za-z.]+: /, "")}`

/** The target of `--pool` mode. */
const poolTarget = (flags: Flags): ListTarget | CommandFailed => {
  if (flags.config !== undefined) return usageError("give either --config or --pool, not both")
  const subnets: Array<Cidr> = []
  for (const text of flags.pools) {
    const cidr = parseCidr(text)
    if (Option.isNone(cidr)) return usageError(`--pool: ${JSON.stringify(text)} is not a CIDR`)
    subnets.push(cidr.value)
  }
  const protocol = flags.protocol ?? knobDefaults.routeProtocol
  const checkedProtocol = parseRouteProtocol(protocol)
  if (checkedProtocol instanceof Error) return usageError(flagMessage("--protocol", checkedProtocol.msg))
  const tableText = flags.table ?? "main"
  const table = parseTable(tableText === "main" ? tableText : Number(tableText))
  if (table instanceof Error) return usageError(flagMessage("--table", table.msg))
  const metric = flags.metric ?? knobDefaults.metric
  if (!Number.isSafeInteger(metric) || metric < 0 || metric > 4294967295)
    return usageError(`--metric: ${JSON.stringify(flags.metric)} must be a whole number 0..4294967295`)
  const dataDir = flags.dataDir ?? knobDefaults.dataDir
  return {
    network: flags.network,
    subnets,
    pools: subnets.map((subnet): CountedPool => {
      const pool = makePool("--pool", [{ subnet: formatCidr(subnet) }])
      return pool instanceof InvalidPool
        ? { label: formatCidr(subnet), allocatable: sizeOf(subnet), contains: (a) => contains(subnet, a) }
        : countedPool(formatCidr(subnet), pool)
    }),
    fabricHealth: { type: "none" },
    protocol: checkedProtocol,
    table,
    metric,
    device: undefined,
    dataDir,
    recordNetworks: flags.network === undefined ? undefined : [flags.network]
  }
}

/** The target of `--config` mode: the plugin's own decoder gives subnets, protocol, table, metric, device, dataDir. */
const configTarget = (flags: Flags, file: string): Effect.Effect<ListTarget, CommandFailed> =>
  Effect.gen(function* () {
    for (const [flag, value] of [
      ["--protocol", flags.protocol],
      ["--table", flags.table],
      ["--metric", flags.metric],
      ["--data-dir", flags.dataDir]
    ] as const) {
      if (value !== undefined) return yield* usageError(`${flag} is taken from the config with --config`)
    }
    const settings = yield* readNetworkSettings(file, flags.network)
    const subnets = new Map<string, Cidr>()
    for (const pool of settings.network.pools) {
      for (const subnet of subnetsOf(pool)) subnets.set(formatCidr(subnet), subnet)
    }
    const { adapters } = settings
    return {
      network: settings.network.name,
      subnets: [...subnets.values()],
      pools: settings.network.pools.map((pool) =>
        countedPool(pool.ranges.map((r) => formatCidr(r.subnet)).join(","), pool)
      ),
      fabricHealth: adapters.fabricHealth,
      protocol: adapters.protocol,
      table: adapters.table,
      metric: adapters.metric,
      device: adapters.device,
      dataDir: adapters.dataDir,
      recordNetworks: [settings.network.name]
    }
  })

/** The ADD outcome counters of the target's networks (every directory under dataDir when none is named). */
const readAddOutcomes = (target: ListTarget) =>
  Effect.gen(function* () {
    const counters = FileAddOutcomes.make(target.dataDir)
    const networks = target.recordNetworks ?? (yield* networksUnder(target.dataDir))
    return yield* Effect.forEach(networks, (network) =>
      Effect.map(counters.read(network), (counts) => ({ network, counts }))
    )
  })

/** The network directories under `dataDir` ([] when it does not exist). */
const networksUnder = (dataDir: string) =>
  Effect.promise(async () => {
    try {
      const entries = await Fs.readdir(dataDir, { withFileTypes: true })
      return entries.filter((e) => e.isDirectory()).map((e) => e.name)
    } catch {
      return []
    }
  })

/** Owner records of the target's networks (every directory under dataDir when none is named). */
const readRecords = (
  target: ListTarget
): Effect.Effect<
  {
    readonly records: ReadonlyArray<Attachment>
    readonly quarantined: ReadonlyArray<QuarantinedRecord>
    readonly boot: string
  },
  CommandFailed
> =>
  Effect.gen(function* () {
    const store = FileAttachments.make(target.dataDir)
    const networks = target.recordNetworks ?? (yield* networksUnder(target.dataDir))
    const records: Array<Attachment> = []
    const quarantined: Array<QuarantinedRecord> = []
    const failure = (e: { readonly operation: string; readonly message: string }) =>
      failed(`attachment records: ${e.operation} failed: ${e.message}`)
    for (const network of networks) {
      records.push(...(yield* store.list(network).pipe(Effect.mapError(failure))))
      quarantined.push(...(yield* store.quarantined(network).pipe(Effect.mapError(failure))))
    }
    return { records, quarantined, boot: yield* store.boot.pipe(Effect.mapError(failure)) }
  })

/** Interface names of this network namespace by index (empty when they cannot be read). */
export const readDeviceNames: Effect.Effect<DeviceNames> = Effect.promise(async () => {
  try {
    const { createRtNetlink } = await import("netlink")
    const socket = createRtNetlink()
    try {
      const links = await socket.getLinks()
      return new Map(
        links.flatMap((link) =>
          link.data.index === undefined || link.attrs.ifname === undefined
            ? []
            : [[link.data.index, link.attrs.ifname] as const]
        )
      )
    } finally {
      socket.socket.close()
    }
  } catch {
    return new Map<number, string>()
  }
})

/** A pool of the domain as `list` counts it. */
const countedPool = (label: string, pool: Pool): CountedPool => ({
  label,
  allocatable: pool.size,
  contains: (address) => isAllocatable(pool, address)
})

/** The fabric's sessions for the metrics: undefined when fabric health is not configured. */
const fabricSessions = (
  settings: FabricHealthSettings
): Effect.Effect<FabricSessions | "error" | undefined> =>
  settings.type === "none"
    ? Effect.succeed(undefined)
    : Effect.gen(function* () {
        const { type: _, ...options } = settings
        const bird = yield* Effect.promise(() => import("../../adapters/BirdFabricHealth.ts"))
        return yield* bird.make(options).check.pipe(
          Effect.map(
            (r): FabricSessions => ({ established: r.established, required: r.required, healthy: r.healthy })
          ),
          Effect.orElseSucceed(() => "error" as const)
        )
      })

/** What to print. */
type Output =
  | { readonly _tag: "Table" }
  | { readonly _tag: "Json" }
  | { readonly _tag: "Prometheus" }
  | { readonly _tag: "Address"; readonly address: Ip; readonly json: boolean }

/** Where node names come from: the file and whether the operator named it (then it must be readable). */
interface NodeNamesSource {
  readonly file: string
  readonly required: boolean
}

/** Node names (hosts file) and protocol names (iproute2's tables plus ours). */
const readNames = (source: NodeNamesSource, protocol: number): Effect.Effect<ListingNames, CommandFailed> =>
  Effect.gen(function* () {
    const nodes = yield* readNodeNames(source.file, source.required).pipe(
      Effect.mapError((e) => failed(`--node-names: cannot read ${e.file}: ${e.message}`))
    )
    const tables = yield* readProtocolNames()
    return { nodes, protocols: protocolNamesWithOurs(tables, protocol) }
  })

/** Read the table (one dump per subnet) and the records, then print. */
const list = (
  target: ListTarget,
  output: Output,
  nodeNames: NodeNamesSource
): Effect.Effect<void, CommandFailed> =>
  Effect.gen(function* () {
    const routes = yield* Effect.gen(function* () {
      const table = yield* RouteTable
      return (yield* Effect.forEach(target.subnets, (subnet) => table.hostRoutesIn(subnet))).flat()
    }).pipe(
      Effect.provide(netlinkRouteTable(target)),
      Effect.mapError((e) => failed(`routing table: ${e.operation} failed: ${e.message}`))
    )
    const stored = yield* readRecords(target)
    const names = yield* readDeviceNames
    const naming = yield* readNames(nodeNames, target.protocol)
    const listing = listClaims({ ...target, routes, ...stored })
    switch (output._tag) {
      case "Address": {
        const holder = holderOf(listing, output.address, target.pools)
        return yield* Console.log(
          output.json
            ? JSON.stringify(holderToJson(holder, listing, names, naming))
            : formatHolder(holder, names, naming)
        )
      }
      case "Json":
        return yield* Console.log(
          JSON.stringify({
            ...listingToJson(listing, names, naming),
            pools: poolTotals(listing, target.pools),
            nodes: nodeTotalsToJson(nodeTotals(listing, naming), naming)
          })
        )
      case "Prometheus":
        return yield* Console.log(
          formatPrometheus({
            network: target.network ?? "",
            pools: poolTotals(listing, target.pools),
            nodes: nodeTotals(listing, naming),
            summary: listing.summary,
            fabric: yield* fabricSessions(target.fabricHealth),
            addOutcomes: yield* readAddOutcomes(target)
          }).trimEnd()
        )
      case "Table":
        return yield* Console.log(
          `${formatTable(listing, names, naming)}\n\n${formatTotals(poolTotals(listing, target.pools), nodeTotals(listing, naming), naming)}`
        )
    }
  })

/** The flags of `list`. */
export const listFlags = {
  config: configFlag.pipe(Flag.optional),
  network: networkFlag(
    "with --config: the network of that name; with --pool: read owner records of this network only (default: every network under the data directory)"
  ),
  pools: Flag.String("pool").pipe(
    Flag.withMetavar("CIDR"),
    Flag.withDescription("list this prefix instead of a config's subnets (repeatable)"),
    Flag.atLeast(0)
  ),
  protocol: Flag.Int("protocol").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription(`with --pool: route protocol of our claims (default ${knobDefaults.routeProtocol})`),
    Flag.optional
  ),
  table: Flag.String("table").pipe(
    Flag.withMetavar("T"),
    Flag.withDescription('with --pool: table of our claims, a number or "main" (default main)'),
    Flag.optional
  ),
  metric: Flag.Int("metric").pipe(
    Flag.withMetavar("M"),
    Flag.withDescription(`with --pool: metric of our claims (default ${knobDefaults.metric})`),
    Flag.optional
  ),
  dataDir: Flag.String("data-dir").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription(`with --pool: attachment records (default ${knobDefaults.dataDir})`),
    Flag.optional
  ),
  nodeNames: Flag.String("node-names").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription(
      `node names for next hops, a hosts(5)-format file ("198.18.0.2 node-b"; the first name of the first line of an address wins), e.g. written from \`kubectl get nodes\` (default ${defaultHostsFile}, ignored when unreadable)`
    ),
    Flag.optional
  ),
  ip: Flag.String("ip").pipe(
    Flag.withMetavar("ADDR"),
    Flag.withDescription("who holds this one address: routes, next hop, owner record, problems"),
    Flag.optional
  ),
  json: jsonFlag(
    "print one JSON object: {network, subnets, protocol, table, metric, claims: [{address, routes: [{origin, nextHop, nodeName, protocol, protocolName, table, metric, device}], owner, problems}], summary, pools: [{pool, allocatable, inUseHere, inUseElsewhere, free, freePercent}], nodes: [{node, nodeName, protocols: [{protocol, name}], addresses}]}; with --ip: {address, heldBy, pools, routes, owner, problems}"
  ),
  prometheus: switchFlag(
    "prometheus",
    "print node-exporter textfile metrics (write to a temporary file, then rename it into the collector's directory)"
  )
}

/** `routetable-ipam list`. */
export const listCommand = Command.make("list", listFlags, (input) =>
  Effect.gen(function* () {
    const flags: Flags = {
      config: Option.getOrUndefined(input.config),
      network: Option.getOrUndefined(input.network),
      pools: input.pools,
      protocol: Option.getOrUndefined(input.protocol),
      table: Option.getOrUndefined(input.table),
      metric: Option.getOrUndefined(input.metric),
      dataDir: Option.getOrUndefined(input.dataDir)
    }
    if (flags.config === undefined && flags.pools.length === 0)
      return yield* usageError("give --config FILE or at least one --pool CIDR")
    if (input.prometheus && (input.json || Option.isSome(input.ip)))
      return yield* usageError("--prometheus cannot be combined with --json or --ip")
    const address = Option.map(input.ip, (text) => ({ text, ip: parseIp(text) }))
    if (Option.isSome(address) && Option.isNone(address.value.ip))
      return yield* usageError(`--ip: ${JSON.stringify(address.value.text)} is not an IP address`)
    const target = flags.config !== undefined ? yield* configTarget(flags, flags.config) : poolTarget(flags)
    if (target instanceof CommandFailed) return yield* target
    const nodeNames: NodeNamesSource = Option.match(input.nodeNames, {
      onNone: () => ({ file: defaultHostsFile, required: false }),
      onSome: (file) => ({ file, required: true })
    })
    if (Option.isSome(address) && Option.isSome(address.value.ip)) {
      const ip = address.value.ip.value
      if (!target.subnets.some((subnet) => contains(subnet, ip)))
        return yield* failed(
          `--ip ${address.value.text} is outside the listed subnets (${target.subnets.map(formatCidr).join(", ")})`
        )
      return yield* list(target, { _tag: "Address", address: ip, json: input.json }, nodeNames)
    }
    return yield* list(
      target,
      input.prometheus ? { _tag: "Prometheus" } : { _tag: input.json ? "Json" : "Table" },
      nodeNames
    )
  })
).pipe(
  Command.withDescription(helpText(description)),
  Command.withShortDescription(
    "every claim in a network's ranges on this node: ours or learned, owner, conflicts, totals"
  ),
  Command.withExamples([
    { command: "routetable-ipam list --config /etc/cni/net.d --network pods" },
    {
      command: "routetable-ipam list --config /etc/cni/net.d --ip 100.64.0.37",
      description: "who holds one address"
    },
    {
      command:
        "routetable-ipam list --config /etc/cni/net.d --prometheus > /var/lib/node-exporter/rtipam.prom.tmp && mv /var/lib/node-exporter/rtipam.prom.tmp /var/lib/node-exporter/rtipam.prom",
      description: "metrics for node-exporter's textfile collector"
    }
  ])
)
