// `routetable-ipam gc`: the operator's garbage collection of one network on this node (runtimes never forward CNI GC to IPAM).
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FileAttachments from "../../adapters/FileAttachments.ts"
import { netlinkRouteTable } from "../plugin/PluginAdapters.ts"
import type { NetworkSettings } from "../../adapters/cni/NetworkSettings.ts"
import { collectGarbage, type Owner } from "../../domain/Attach.ts"
import { type Attachment, Attachments } from "../../domain/Attachments.ts"
import { checkContainerId, checkIfname } from "../../domain/ContainerId.ts"
import { formatIp, type Ip, keyOf } from "../../domain/Ip.ts"
import type { Network } from "../../domain/Network.ts"
import { rangeOf, subnetsOf } from "../../domain/Pool.ts"
import { isOurs, type Route } from "../../domain/Route.ts"
import { RouteTable, type RouteTableError } from "../../domain/RouteTable.ts"
import { CommandFailed, type OperatorCommand } from "../OperatorCommand.ts"
import { readNetworkSettings } from "./NetworkConfigSource.ts"

/** Records written more recently than this are never collected unless `--grace` says otherwise. */
export const defaultGraceMillis = 60_000

const usage = `Usage: routetable-ipam gc --config FILE|DIR [--network NAME] [--keep CONTAINERID/IFNAME ...]
                          [--grace DURATION] [--dry-run] [--json]

Garbage collection of one network on this node, for when the container runtime never sends
CNI GC (standard parent plugins such as bridge do not forward GC to their IPAM plugin). It
releases (deletes our host route of) addresses nobody owns any more and removes their owner
records from the data directory. Only routes of ours (our protocol, table and metric, inside the
network's ranges) are ever deleted; learned routes and other networks are never touched.

Without --keep, every complete owner record is kept, and gc collects only what no complete
record explains:
  - routes of ours without any owner record (orphans: e.g. records deleted by hand), and
  - records of ADDs that crashed before they finished (addresses still pending), with their routes.
With --keep, gc does what CNI GC does: every record not listed is released, with its addresses.

Records written within the grace period (default ${defaultGraceMillis / 1000} s) are always kept: an ADD may still be in
progress, or the runtime may not know the container yet.

Flags:
  --config FILE     a network config (.conf) or list (.conflist), or a directory of them (as
                    /etc/cni/net.d): the plugin whose ipam type is routetable-ipam
  --network NAME    the network of that name (when several use routetable-ipam)
  --keep C/IFNAME   an attachment to keep: container ID and interface, e.g. 3f2a9c/eth0
                    (repeatable); every other record of the network is released
  --grace DURATION  keep records younger than this: "90s", "5m", "0" (default ${defaultGraceMillis / 1000}s)
  --dry-run         print what would be released; change nothing
  --json            print one JSON object: {network, dryRun, released: {attachments:
                    [{containerId, ifname, addresses, pending}], routes: [address]},
                    kept: [{containerId, ifname}], recent: [{containerId, ifname}], errors: [text]}
  --help            this text

Exit status: 0 when everything was released (or nothing needed to be), 1 when some release
failed (the errors are printed) or the config cannot be read, 2 for a usage error.

Example:
  routetable-ipam gc --config /etc/cni/net.d --network pods --dry-run
  routetable-ipam gc --config /etc/cni/net.d --network pods --keep 3f2a9c/eth0 --keep 77b1e0/eth0
`

/** The command line. */
export interface GcFlags {
  readonly config: string | undefined
  readonly network: string | undefined
  /** undefined: no --keep given (keep every complete record). */
  readonly keep: ReadonlyArray<Owner> | undefined
  readonly graceMillis: number
  readonly dryRun: boolean
  readonly json: boolean
  readonly help: boolean
}

const usageError = (message: string) =>
  new CommandFailed({ message: `${message}\nRun 'routetable-ipam gc --help' for usage.`, exitCode: 2 })

const failed = (message: string) => new CommandFailed({ message, exitCode: 1 })

/** `CONTAINERID/IFNAME` as an owner; a usage error when either part is not a valid CNI identifier. */
export const parseKeep = (text: string): Owner | CommandFailed => {
  const parts = text.split("/")
  if (parts.length !== 2) return usageError(`--keep: ${JSON.stringify(text)} is not CONTAINERID/IFNAME`)
  const [containerId, ifname] = parts as [string, string]
  const problem = checkContainerId(containerId) ?? checkIfname(ifname)
  if (problem !== undefined) return usageError(`--keep ${text}: ${problem.field}: ${problem.message}`)
  return { containerId, ifname }
}

const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** A grace period: "250ms", "90s", "5m", "1h", or a bare number of seconds; milliseconds or a usage error. */
export const parseGrace = (text: string): number | CommandFailed => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null)
    return usageError(`--grace: ${JSON.stringify(text)} is not a duration like "90s" or "5m"`)
  return Math.round(Number(match[1]) * (durationUnits[match[2] ?? "s"] ?? 1000))
}

const parseValues = (args: ReadonlyArray<string>) =>
  parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: "string" },
      network: { type: "string" },
      keep: { type: "string", multiple: true },
      grace: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" }
    }
  }).values

/** The command line as flags; a usage error (exit 2) for anything unknown or malformed. */
export const parseFlags = (args: ReadonlyArray<string>): GcFlags | CommandFailed => {
  let values: ReturnType<typeof parseValues>
  try {
    values = parseValues(args)
  } catch (cause) {
    return usageError(cause instanceof Error ? cause.message : String(cause))
  }
  let keep: Array<Owner> | undefined
  for (const text of values.keep ?? []) {
    const owner = parseKeep(text)
    if (owner instanceof CommandFailed) return owner
    keep ??= []
    keep.push(owner)
  }
  const graceMillis = values.grace === undefined ? defaultGraceMillis : parseGrace(values.grace)
  if (graceMillis instanceof CommandFailed) return graceMillis
  return {
    config: values.config,
    network: values.network,
    keep,
    graceMillis,
    dryRun: values["dry-run"] === true,
    json: values.json === true,
    help: values.help === true
  }
}

const ownerKey = (owner: Owner): string => `${owner.containerId}\u0000${owner.ifname}`

const ownerOf = (record: Attachment): Owner => ({ containerId: record.containerId, ifname: record.ifname })

/** Which owners GC must treat as valid, and which of them only because they are recent. */
export interface KeepDecision {
  /** Passed to `collectGarbage`: every record not in here is released. */
  readonly valid: ReadonlyArray<Owner>
  /** Records that would be released but were written within the grace period. */
  readonly recent: ReadonlyArray<Owner>
}

/**
 * The owners to keep. Without `keep`: every complete record (no pending address); with it:
 * exactly those owners. Either way, records for which `isRecent` holds are kept too.
 */
export const decideKeep = (
  records: ReadonlyArray<Attachment>,
  keep: ReadonlyArray<Owner> | undefined,
  isRecent: (record: Attachment) => boolean
): KeepDecision => {
  const explicit = new Set((keep ?? []).map(ownerKey))
  const valid: Array<Owner> = keep === undefined ? [] : [...keep]
  const recent: Array<Owner> = []
  for (const record of records) {
    const owner = ownerOf(record)
    const listed = keep === undefined ? record.pending.length === 0 : explicit.has(ownerKey(owner))
    if (listed) {
      if (keep === undefined) valid.push(owner)
    } else if (isRecent(record)) {
      valid.push(owner)
      recent.push(owner)
    }
  }
  return { valid, recent }
}

/** What a GC releases. */
export interface GcPlan {
  /** Records not valid: released with every address they name (confirmed or pending). */
  readonly attachments: ReadonlyArray<Attachment>
  /** Routes of ours in the network's ranges that no record explains. */
  readonly routes: ReadonlyArray<Ip>
}

/**
 * What `collectGarbage(network, valid)` would release given these records and the routes of the
 * network's subnets: every record not valid, then every route of ours inside a pool's ranges
 * that neither a kept nor a released record names.
 */
export const planCollection = (
  network: Network,
  records: ReadonlyArray<Attachment>,
  routes: ReadonlyArray<Route>,
  valid: ReadonlyArray<Owner>
): GcPlan => {
  const validKeys = new Set(valid.map(ownerKey))
  const attachments = records.filter((r) => !validKeys.has(ownerKey(ownerOf(r))))
  const explained = new Set(records.flatMap((r) => [...r.addresses, ...r.pending].map(keyOf)))
  const seen = new Set<string>()
  const orphans: Array<Ip> = []
  for (const route of routes) {
    const key = keyOf(route.host)
    if (!isOurs(route) || explained.has(key) || seen.has(key)) continue
    if (!network.pools.some((pool) => rangeOf(pool, route.host) !== undefined)) continue
    seen.add(key)
    orphans.push(route.host)
  }
  return { attachments, routes: orphans }
}

/** What gc did (or would do), for printing. */
export interface GcOutcome {
  readonly network: string
  readonly dryRun: boolean
  readonly attachments: ReadonlyArray<Attachment>
  readonly routes: ReadonlyArray<Ip>
  readonly kept: ReadonlyArray<Owner>
  readonly recent: ReadonlyArray<Owner>
  readonly errors: ReadonlyArray<string>
}

const ownerText = (owner: Owner) => `${owner.containerId}/${owner.ifname}`

/** The outcome as text lines for a terminal. */
export const formatOutcome = (outcome: GcOutcome): string => {
  const verb = outcome.dryRun ? "would release" : "released"
  const lines = [`network ${outcome.network}${outcome.dryRun ? " (dry run: nothing changed)" : ""}`]
  for (const record of outcome.attachments) {
    const addresses = [
      ...record.addresses.map(formatIp),
      ...record.pending.map((a) => `${formatIp(a)} (pending)`)
    ]
    lines.push(`${verb} attachment ${ownerText(record)}: ${addresses.join(", ") || "no addresses"}`)
  }
  for (const address of outcome.routes) lines.push(`${verb} route ${formatIp(address)} (no owner record)`)
  if (outcome.attachments.length === 0 && outcome.routes.length === 0) lines.push("nothing to release")
  lines.push(`kept ${outcome.kept.length} attachment${outcome.kept.length === 1 ? "" : "s"}`)
  if (outcome.recent.length > 0)
    lines.push(`kept as too recent (within the grace period): ${outcome.recent.map(ownerText).join(", ")}`)
  for (const error of outcome.errors) lines.push(`error: ${error}`)
  return lines.join("\n")
}

/** The outcome as one JSON object. */
export const outcomeToJson = (outcome: GcOutcome) => ({
  network: outcome.network,
  dryRun: outcome.dryRun,
  released: {
    attachments: outcome.attachments.map((r) => ({
      containerId: r.containerId,
      ifname: r.ifname,
      addresses: r.addresses.map(formatIp),
      pending: r.pending.map(formatIp)
    })),
    routes: outcome.routes.map(formatIp)
  },
  kept: outcome.kept.map(({ containerId, ifname }) => ({ containerId, ifname })),
  recent: outcome.recent.map(({ containerId, ifname }) => ({ containerId, ifname })),
  errors: outcome.errors
})

/** Milliseconds since each record's file was last written (records whose file is gone count as old). */
const recordAges = (
  dataDir: string,
  records: ReadonlyArray<Attachment>
): Effect.Effect<ReadonlyMap<Attachment, number>> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.promise(async () => {
      const ages = new Map<Attachment, number>()
      for (const record of records) {
        const file = Path.join(dataDir, record.network, FileAttachments.fileNameOf(record))
        const written = await Fs.stat(file).then(
          (s) => s.mtimeMs,
          () => Number.NEGATIVE_INFINITY
        )
        ages.set(record, now - written)
      }
      return ages
    })
  })

/** Read records and (for a dry run) routes, decide, then collect or only report. */
const gc = (settings: NetworkSettings, flags: GcFlags): Effect.Effect<GcOutcome, CommandFailed> =>
  Effect.gen(function* () {
    const { network, adapters } = settings
    const store = yield* Attachments
    const table = yield* RouteTable
    const records = yield* store
      .list(network.name)
      .pipe(Effect.mapError((e) => failed(`attachment records: ${e.operation} failed: ${e.message}`)))
    const ages = yield* recordAges(adapters.dataDir, records)
    const decision = decideKeep(records, flags.keep, (r) => (ages.get(r) ?? 0) < flags.graceMillis)
    const recentKeys = new Set(decision.recent.map(ownerKey))
    const validKeys = new Set(decision.valid.map(ownerKey))
    const base = {
      network: network.name,
      dryRun: flags.dryRun,
      kept: records.map(ownerOf).filter((o) => validKeys.has(ownerKey(o)) && !recentKeys.has(ownerKey(o))),
      recent: decision.recent
    }
    if (flags.dryRun) {
      const routes = yield* Effect.forEach(network.pools.flatMap(subnetsOf), (subnet) =>
        table.hostRoutesIn(subnet)
      ).pipe(Effect.mapError((e) => failed(`routing table: ${e.operation} failed: ${e.message}`)))
      const plan = planCollection(network, records, routes.flat(), decision.valid)
      return { ...base, ...plan, errors: [] }
    }
    const report = yield* collectGarbage(network, decision.valid).pipe(
      Effect.mapError((e) => failed(`attachment records: ${e.operation} failed: ${e.message}`))
    )
    const released = new Set(report.releasedAttachments.map(ownerKey))
    return {
      ...base,
      attachments: records.filter((r) => released.has(ownerKey(ownerOf(r)))),
      routes: report.releasedRoutes,
      errors: report.errors
    }
  }).pipe(
    Effect.provide(servicesFor(settings)),
    Effect.catchTag("RouteTableError", (e) =>
      Effect.fail(failed(`routing table: ${e.operation} failed: ${e.message}`))
    )
  )

/** The kernel's table over rtnetlink (loaded only now) and the records under dataDir. */
const servicesFor = (
  settings: NetworkSettings
): Layer.Layer<RouteTable | Attachments, CommandFailed | RouteTableError> => {
  const { adapters } = settings
  const netlink = netlinkRouteTable(adapters)
  return Layer.mergeAll(netlink, FileAttachments.layer(adapters.dataDir))
}

/** `routetable-ipam gc`. */
export const command: OperatorCommand = {
  name: "gc",
  summary: "release what nobody owns in one network on this node (orphan routes, crashed ADDs)",
  usage,
  run: (args) =>
    Effect.gen(function* () {
      const flags = parseFlags(args)
      if (flags instanceof CommandFailed) return yield* flags
      if (flags.help) return yield* Console.log(usage)
      if (flags.config === undefined) return yield* usageError("give --config FILE|DIR")
      const settings = yield* readNetworkSettings(flags.config, flags.network)
      const outcome = yield* gc(settings, flags)
      yield* Console.log(flags.json ? JSON.stringify(outcomeToJson(outcome)) : formatOutcome(outcome))
      if (outcome.errors.length > 0) {
        const n = outcome.errors.length
        return yield* failed(`${n} release${n === 1 ? "" : "s"} failed`)
      }
    })
}
