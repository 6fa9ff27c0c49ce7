// `routetable-ipam list`: every claim inside a network's ranges as this node's table shows it, with owners and conflicts.
import * as Fs from "node:fs/promises"
import { parseArgs } from "node:util"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as FileAttachments from "../../adapters/FileAttachments.ts"
import { netlinkRouteTable } from "../plugin/PluginAdapters.ts"
import { knobDefaults, parseRouteProtocol, parseTable } from "../../adapters/cni/IpamKnobs.ts"
import type { Attachment, QuarantinedRecord } from "../../domain/Attachments.ts"
import { type Cidr, formatCidr, parseCidr } from "../../domain/Ip.ts"
import { subnetsOf } from "../../domain/Pool.ts"
import { RouteTable } from "../../domain/RouteTable.ts"
import { type DeviceNames, formatTable, listClaims, listingToJson } from "../listing/ClaimListing.ts"
import { CommandFailed, type OperatorCommand } from "../OperatorCommand.ts"
import { readNetworkSettings } from "./NetworkConfigSource.ts"

const usage = `Usage: routetable-ipam list --config FILE [--network NAME] [--json]
       routetable-ipam list --pool CIDR [--pool CIDR ...] [--protocol N] [--table T] [--metric M]
                            [--data-dir DIR] [--network NAME] [--json]

Show every host route inside a network's subnets as this node's routing table has it: the
address, whether the claim is ours (our route protocol, table and metric) or learned (from a
routing daemon, i.e. another node's claim, or any other route), the next hop (the node holding
it), protocol, metric, device, the owner (container ID / interface, from the attachment records
in the data directory) and problems:
  conflict   more than one route to the address (two nodes claim it)
  orphan     a route of ours without an owner record (GC releases it)
  missing    an owner record names the address but our route is gone (or an ADD is in progress)
The exit status is 0 whatever the listing shows; use --json and its "summary" in scripts.

Flags:
  --config FILE     a network config (.conf) or list (.conflist), or a directory of them: the
                    plugin whose ipam type is routetable-ipam; the same keys and checks as the plugin
  --network NAME    with --config: the network of that name; with --pool: read owner records of
                    this network only (default: every network under the data directory)
  --pool CIDR       list this prefix instead of a config's subnets (repeatable)
  --protocol N      route protocol of our claims (default ${knobDefaults.routeProtocol})
  --table T         table of our claims, a number or "main" (default main)
  --metric M        metric of our claims (default ${knobDefaults.metric})
  --data-dir DIR    attachment records (default ${knobDefaults.dataDir})
  --json            print one JSON object: {network, subnets, protocol, table, metric,
                    claims: [{address, routes: [{origin, nextHop, protocol, table, metric,
                    device}], owner, problems}], summary: {ours, learned, conflicts, orphans, missing}}
  --help            this text
`

/** What to list and where "ours" and the owners come from. */
interface ListTarget {
  readonly network: string | undefined
  readonly subnets: ReadonlyArray<Cidr>
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
  readonly protocol: string | undefined
  readonly table: string | undefined
  readonly metric: string | undefined
  readonly dataDir: string | undefined
  readonly json: boolean
  readonly help: boolean
}

const usageError = (message: string) =>
  new CommandFailed({ message: `${message}\nRun 'routetable-ipam list --help' for usage.`, exitCode: 2 })

const failed = (message: string) => new CommandFailed({ message, exitCode: 1 })

/** The command line as flags; a usage error (exit 2) for anything unknown. */
export const parseFlags = (args: ReadonlyArray<string>): Flags | CommandFailed => {
  try {
    const { values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: "string" },
        network: { type: "string" },
        pool: { type: "string", multiple: true },
        protocol: { type: "string" },
        table: { type: "string" },
        metric: { type: "string" },
        "data-dir": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" }
      }
    })
    return {
      config: values.config,
      network: values.network,
      pools: values.pool ?? [],
      protocol: values.protocol,
      table: values.table,
      metric: values.metric,
      dataDir: values["data-dir"],
      json: values.json === true,
      help: values.help === true
    }
  } catch (cause) {
    return usageError(cause instanceof Error ? cause.message : String(cause))
  }
}

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
  const protocol = flags.protocol === undefined ? knobDefaults.routeProtocol : Number(flags.protocol)
  const checkedProtocol = parseRouteProtocol(protocol)
  if (checkedProtocol instanceof Error) return usageError(flagMessage("--protocol", checkedProtocol.msg))
  const tableText = flags.table ?? "main"
  const table = parseTable(tableText === "main" ? tableText : Number(tableText))
  if (table instanceof Error) return usageError(flagMessage("--table", table.msg))
  const metric = flags.metric === undefined ? knobDefaults.metric : Number(flags.metric)
  if (!Number.isSafeInteger(metric) || metric < 0 || metric > 4294967295)
    return usageError(`--metric: ${JSON.stringify(flags.metric)} must be a whole number 0..4294967295`)
  const dataDir = flags.dataDir ?? knobDefaults.dataDir
  return {
    network: flags.network,
    subnets,
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
      protocol: adapters.protocol,
      table: adapters.table,
      metric: adapters.metric,
      device: adapters.device,
      dataDir: adapters.dataDir,
      recordNetworks: [settings.network.name]
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
    const networks =
      target.recordNetworks ??
      (yield* Effect.promise(async () => {
        try {
          const entries = await Fs.readdir(target.dataDir, { withFileTypes: true })
          return entries.filter((e) => e.isDirectory()).map((e) => e.name)
        } catch {
          return []
        }
      }))
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
const readDeviceNames: Effect.Effect<DeviceNames> = Effect.promise(async () => {
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

/** Read the table (one dump per subnet) and the records, then print. */
const list = (target: ListTarget, json: boolean): Effect.Effect<void, CommandFailed> =>
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
    const listing = listClaims({ ...target, routes, ...stored })
    yield* Console.log(json ? JSON.stringify(listingToJson(listing, names)) : formatTable(listing, names))
  })

/** `routetable-ipam list`. */
export const command: OperatorCommand = {
  name: "list",
  summary: "every claim in a network's ranges on this node: ours or learned, owner, conflicts",
  usage,
  run: (args) =>
    Effect.gen(function* () {
      const flags = parseFlags(args)
      if (flags instanceof CommandFailed) return yield* flags
      if (flags.help) return yield* Console.log(usage)
      if (flags.config === undefined && flags.pools.length === 0)
        return yield* usageError("give --config FILE or at least one --pool CIDR")
      const target = flags.config !== undefined ? yield* configTarget(flags, flags.config) : poolTarget(flags)
      if (target instanceof CommandFailed) return yield* target
      return yield* list(target, flags.json)
    })
}
