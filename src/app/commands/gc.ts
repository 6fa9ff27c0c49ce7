// `routetable-ipam gc`: release what nobody owns in one network on this node (orphan routes, crashed ADDs).
import { Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AbstractSocketNodeLock from "../../adapters/AbstractSocketNodeLock.ts"
import * as FileAttachments from "../../adapters/FileAttachments.ts"
import { netlinkRouteTable } from "../plugin/PluginAdapters.ts"
import type { NetworkSettings } from "../../adapters/cni/NetworkSettings.ts"
import type { Owner } from "../../domain/Attach.ts"
import { collectGarbage } from "../../domain/Collection.ts"
import type { Attachment, Attachments } from "../../domain/Attachments.ts"
import { checkContainerId, checkIfname } from "../../domain/ContainerId.ts"
import { formatIp, type Ip } from "../../domain/Ip.ts"
import type { RouteTable, RouteTableError } from "../../domain/RouteTable.ts"
import * as Option from "effect/Option"
import { CommandFailed } from "../OperatorCommand.ts"
import { configFlag, dryRunFlag, durationFlag, helpText, jsonFlag, networkFlag } from "./CliFlags.ts"
import { readNetworkSettings } from "./NetworkConfigSource.ts"

/** Records written more recently than this are never collected unless `--grace` says otherwise. */
export const defaultGraceMillis = 60_000

const description = `Garbage collection of one network on this node, for when the container runtime never sends
CNI GC (standard parent plugins such as bridge do not forward GC to their IPAM plugin). It
releases (deletes our host route of) addresses nobody owns any more and removes their owner
records from the data directory. Only routes of ours (our protocol, table and metric, inside the
network's ranges) are ever deleted; learned routes and other networks are never touched.

Without --keep, every complete owner record is kept, and gc collects only what no complete
record explains: routes of ours without any owner record (orphans: e.g. records deleted by
hand), and records of ADDs that crashed before they finished (addresses still pending), with
their routes. With --keep, gc does what CNI GC does: every record not listed is released.

Records written within the grace period (default ${defaultGraceMillis / 1000}s) are always kept: an ADD may still be
in progress, or the runtime may not know the container yet.

Exit status: 0 when everything was released (or nothing needed to be), 1 when some release
failed (the errors are printed) or the config cannot be read, 2 for a usage error.`

/** What to collect. */
export interface GcFlags {
  readonly network: string | undefined
  /** undefined: no --keep given (keep every complete record). */
  readonly keep: ReadonlyArray<Owner> | undefined
  readonly graceMillis: number
  readonly dryRun: boolean
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

/** What gc did (or would do), for printing. */
export interface GcOutcome {
  readonly network: string
  readonly dryRun: boolean
  readonly attachments: ReadonlyArray<Attachment>
  /** Records of another boot (or empty ones) removed without touching a route. */
  readonly forgotten: ReadonlyArray<Attachment>
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
  for (const record of outcome.forgotten) {
    lines.push(
      `${outcome.dryRun ? "would forget" : "forgot"} record ${ownerText(record)} (${record.addresses.length === 0 && record.pending.length === 0 ? "empty" : "written before the last reboot"}; no route touched)`
    )
  }
  for (const address of outcome.routes) lines.push(`${verb} route ${formatIp(address)} (no owner record)`)
  if (outcome.attachments.length === 0 && outcome.routes.length === 0 && outcome.forgotten.length === 0)
    lines.push("nothing to release")
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
    routes: outcome.routes.map(formatIp),
    forgotten: outcome.forgotten.map((r) => ({ containerId: r.containerId, ifname: r.ifname }))
  },
  kept: outcome.kept.map(({ containerId, ifname }) => ({ containerId, ifname })),
  recent: outcome.recent.map(({ containerId, ifname }) => ({ containerId, ifname })),
  errors: outcome.errors
})

/** Plan under the node lock, then collect (or, for a dry run, only report). */
const gc = (settings: NetworkSettings, flags: GcFlags): Effect.Effect<GcOutcome, CommandFailed> =>
  collectGarbage(settings.network, {
    ...(flags.keep === undefined ? {} : { valid: flags.keep }),
    graceMillis: flags.graceMillis,
    dryRun: flags.dryRun
  }).pipe(
    Effect.map(
      (report): GcOutcome => ({
        network: settings.network.name,
        dryRun: flags.dryRun,
        attachments: flags.dryRun ? report.plan.release : report.releasedAttachments,
        forgotten: flags.dryRun ? report.plan.forget : report.forgotten,
        routes: flags.dryRun ? report.plan.orphans : report.releasedRoutes,
        kept: report.plan.kept.filter(
          (o) => !report.plan.recent.some((r) => r.containerId === o.containerId && r.ifname === o.ifname)
        ),
        recent: report.plan.recent,
        errors: report.errors
      })
    ),
    Effect.provide(servicesFor(settings)),
    Effect.mapError((e) =>
      e._tag === "CommandFailed"
        ? e
        : failed(
            `${e._tag === "RouteTableError" ? "routing table" : "attachment records"}: ${e.operation} failed: ${e.message}`
          )
    )
  )

/** The kernel's table over rtnetlink, the records under dataDir and the node lock shared by every process of the node. */
export const servicesFor = (
  settings: NetworkSettings
): Layer.Layer<RouteTable | Attachments, CommandFailed | RouteTableError> => {
  const { adapters } = settings
  const netlink = netlinkRouteTable(adapters)
  return Layer.mergeAll(
    netlink,
    FileAttachments.layer(adapters.dataDir),
    AbstractSocketNodeLock.layer({ dataDir: adapters.dataDir })
  )
}

/** The flags of `gc`. */
export const gcFlags = {
  config: configFlag,
  network: networkFlag(),
  keep: Flag.String("keep").pipe(
    Flag.withMetavar("CONTAINERID/IFNAME"),
    Flag.withDescription(
      "an attachment to keep, e.g. 3f2a9c/eth0 (repeatable); every other record of the network is released"
    ),
    Flag.atLeast(0)
  ),
  grace: durationFlag("grace").pipe(
    Flag.withDescription(
      `keep records younger than this: "90s", "5m", "0" (a bare number is milliseconds; default ${defaultGraceMillis / 1000}s)`
    ),
    Flag.withDefault(defaultGraceMillis)
  ),
  dryRun: dryRunFlag("print what would be released; change nothing"),
  json: jsonFlag(
    "print one JSON object: {network, dryRun, released: {attachments: [{containerId, ifname, addresses, pending}], routes, forgotten}, kept, recent, errors}"
  )
}

/** What the parsed flags ask for; a usage error (exit 2) for a malformed --keep. */
export const gcFlagsOf = (input: Command.Command.Config.Infer<typeof gcFlags>): GcFlags | CommandFailed => {
  const keep: Array<Owner> = []
  for (const text of input.keep) {
    const owner = parseKeep(text)
    if (owner instanceof CommandFailed) return owner
    keep.push(owner)
  }
  return {
    network: Option.getOrUndefined(input.network),
    keep: input.keep.length === 0 ? undefined : keep,
    graceMillis: input.grace,
    dryRun: input.dryRun
  }
}

/** `routetable-ipam gc`. */
export const gcCommand = Command.make("gc", gcFlags, (input) =>
  Effect.gen(function* () {
    const flags = gcFlagsOf(input)
    if (flags instanceof CommandFailed) return yield* flags
    const settings = yield* readNetworkSettings(input.config, flags.network)
    const outcome = yield* gc(settings, flags)
    yield* Console.log(input.json ? JSON.stringify(outcomeToJson(outcome)) : formatOutcome(outcome))
    if (outcome.errors.length > 0) {
      const n = outcome.errors.length
      return yield* failed(`${n} release${n === 1 ? "" : "s"} failed`)
    }
  })
).pipe(
  Command.withDescription(helpText(description)),
  Command.withShortDescription(
    "release what nobody owns in one network on this node (orphan routes, crashed ADDs)"
  ),
  Command.withExamples([
    { command: "routetable-ipam gc --config /etc/cni/net.d --network pods --dry-run" },
    {
      command:
        "routetable-ipam gc --config /etc/cni/net.d --network pods --keep 3f2a9c/eth0 --keep 77b1e0/eth0"
    }
  ])
)
