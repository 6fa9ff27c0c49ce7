// `routetable-ipam migrate`: adopt (or remove) the original Go plugin's routes on this node, each crash-safely under its node lock.
import { Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type CacheContents, defaultCacheDir, readCache } from "../../adapters/CniResultCache.ts"
import type { NetworkSettings } from "../../adapters/cni/NetworkSettings.ts"
import { formatPod } from "../../domain/Attachments.ts"
import { contains, equals, formatCidr, formatIp, type Ip } from "../../domain/Ip.ts"
import { LegacyRoutes, legacyMetricOf, type RouteOwnership } from "../../domain/LegacyRoute.ts"
import { type MigrationReport, type MigrationStep, migrateLegacy } from "../../domain/Migration.ts"
import type { KnownContainer, MigrationMode } from "../../domain/MigrationDecision.ts"
import { RouteTableError } from "../../domain/RouteTable.ts"
import { CommandFailed } from "../OperatorCommand.ts"
import { configFlag, dryRunFlag, helpText, jsonFlag, networkFlag, switchFlag } from "./CliFlags.ts"
import { servicesFor } from "./gc.ts"
import { readDeviceNames } from "./list.ts"
import { readNetworkSettings } from "./NetworkConfigSource.ts"

const description = `Take over the routes the original Go plugin (travishegner/routetable-ipam) left on this node.
Its routes carry our route protocol but its metric (0 for IPv4, 1024 for IPv6); \`list\` shows them
as "legacy". They stay held (ADD never hands their addresses out) and gc, DEL and release never
delete them, but no owner record explains them: DEL of their container would leave them behind.

For each legacy route inside the network's subnets, migrate:
  - adopts it when the container runtime's CNI result cache (--cni-cache-dir, libcni's
    cniCacheV1 files) names exactly one container with that address: writes the owner record
    (pending), inserts our route (our protocol, table and metric, the legacy route's device),
    confirms the record, deletes the legacy route. From then on DEL of that container releases it.
  - leaves it legacy, with the reason, when no container (or several) is known, when another
    record names the address, or when another node routes it too (a conflict). An adopted route
    without an owner record would be an orphan that the next gc releases while the container still
    uses the address, so migrate never adopts without one; once the container is gone,
    \`migrate --remove\` deletes its route.
With --remove it deletes legacy routes instead, but only those whose container the cache does not
name (leaks of the Go plugin), unless --force.

Every address is handled under its node lock with the records and routes read again, and in an
order that leaves the legacy route or ours in place at every step: a crash (or a kill) at any
point never leaves a live container's address unheld. Run it again to finish.

Exit status: 0 when every step that was attempted succeeded (addresses left legacy are listed
with the reason), 1 when a step failed or the config cannot be read, 2 for a usage error.`

/** Which cache entries name `address`: those of this network when any does (a renamed network: all of them). */
export const containersNaming = (
  cache: CacheContents,
  network: string
): ((address: Ip) => ReadonlyArray<KnownContainer>) => {
  const byAddress = (address: Ip) =>
    cache.entries.filter((entry) => entry.addresses.some((a) => equals(a, address)))
  return (address) => {
    const all = byAddress(address)
    const ours = all.filter((entry) => entry.network === network)
    return (ours.length > 0 ? ours : all).map((entry) => ({
      containerId: entry.containerId,
      ifname: entry.ifname,
      network: entry.network,
      ...(entry.pod === undefined ? {} : { pod: entry.pod })
    }))
  }
}

const ownerText = (network: string, owner: KnownContainer): string =>
  `${network}/${owner.containerId}/${owner.ifname}${owner.pod === undefined ? "" : ` (${formatPod(owner.pod)})`}`

const deviceText = (device: number, names: ReadonlyMap<number, string>) => names.get(device) ?? `#${device}`

/** One sentence for what was (or would be) done with one address. */
export const describeStep = (
  step: MigrationStep,
  context: { readonly network: string; readonly dryRun: boolean; readonly cacheDir: string },
  names: ReadonlyMap<number, string>
): string => {
  const ip = formatIp(step.address)
  const d = step.decision
  const failed =
    step.error === undefined
      ? ""
      : ` - FAILED: ${step.error} (the legacy route or ours still holds it; run migrate again)`
  const note = step.note === undefined ? "" : ` (${step.note})`
  switch (d._tag) {
    case "Adopt": {
      const what = `${ip} for ${ownerText(context.network, d.owner)} through ${deviceText(d.device, names)}`
      return `${context.dryRun ? "would adopt" : step.done ? "adopted" : "adopt"} ${what}${note}${failed}`
    }
    case "Remove": {
      const whose =
        d.owner === undefined ? "no container known" : `container ${d.owner.containerId} known (--force)`
      return `${context.dryRun ? "would remove" : step.done ? "removed" : "remove"} legacy route ${ip} (${whose})${note}${failed}`
    }
    case "Skip": {
      const names = d.containers.map((c) => `${c.network}/${c.containerId}/${c.ifname}`).join(", ")
      const why = {
        UnknownContainer: `no container in the CNI result cache (${context.cacheDir}) names it: no owner record could be written, and an adopted route without one would be released by the next gc while its container may still use it. It stays held; once its container is gone, \`migrate --remove\` deletes it`,
        SeveralContainers: `several cache entries name it (${names}): no single owner to record; remove the stale cache files`,
        HeldByRecord:
          "an owner record of another container (or one moved aside as corrupt) names it; see `list --ip`",
        Conflict: "another node routes it too (a conflict); resolve that first (see `list --ip`)",
        NoDevice: "the legacy route has no output device to put ours on",
        KnownContainer: `the CNI result cache names its container (${names}); adopt it (migrate without --remove), or add --force to delete a live container's route`,
        NotLegacy: "no legacy route to it any more"
      }[d.reason]
      return `${context.dryRun ? "would leave" : "left"} ${ip} legacy: ${why}${failed}`
    }
  }
}

/** Counts over the steps. */
export const summaryOf = (report: MigrationReport) => {
  const count = (p: (s: MigrationStep) => boolean) => report.steps.filter(p).length
  return {
    adopt: count((s) => s.decision._tag === "Adopt" && s.error === undefined),
    remove: count((s) => s.decision._tag === "Remove" && s.error === undefined),
    leftLegacy: count((s) => s.decision._tag === "Skip" && s.error === undefined),
    failed: count((s) => s.error !== undefined)
  }
}

/** The flags of `migrate`. */
export const migrateFlags = {
  config: configFlag,
  network: networkFlag(),
  cniCacheDir: Flag.String("cni-cache-dir").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription(
      `the container runtime's libcni result cache: which container got which address (default ${defaultCacheDir})`
    ),
    Flag.withDefault(defaultCacheDir)
  ),
  remove: switchFlag(
    "remove",
    "delete legacy routes instead of adopting them (only those whose container the cache does not name)"
  ),
  force: switchFlag("force", "with --remove: also delete a legacy route whose container the cache names"),
  dryRun: dryRunFlag("say what would be done; change nothing"),
  json: jsonFlag(
    "print one JSON object: {network, mode, dryRun, cniCacheDir, cacheMissing, unreadableCacheEntries: [{file, reason}], steps: [{address, action, reason, owner: {network, containerId, ifname, pod} | null, device, done, note, error, message}], summary: {adopt, remove, leftLegacy, failed}}"
  )
}

/** TEST ONLY: RTIPAM_FAULT_INJECT=migrate-after-adopt SIGKILLs migrate right after it inserted our route beside a legacy one. */
const withFault = (legacy: LegacyRoutes["Service"]): LegacyRoutes["Service"] =>
  process.env.RTIPAM_FAULT_INJECT !== "migrate-after-adopt"
    ? legacy
    : LegacyRoutes.of({
        ...legacy,
        adopt: (host, device) =>
          legacy
            .adopt(host, device)
            .pipe(
              Effect.andThen(Effect.sync(() => process.kill(process.pid, "SIGKILL"))),
              Effect.andThen(Effect.never)
            )
      })

/** The legacy-route changes over rtnetlink (the module is imported only when migrate runs). */
const legacyRoutesLayer = (ours: RouteOwnership): Layer.Layer<LegacyRoutes, RouteTableError> =>
  Layer.unwrap(
    Effect.tryPromise({
      try: () => import("../../adapters/NetlinkLegacyRoutes.ts"),
      catch: (cause) => new RouteTableError({ operation: "load the netlink adapter", message: String(cause) })
    }).pipe(
      Effect.map((netlink) =>
        Layer.effect(
          LegacyRoutes,
          LegacyRoutes.use((legacy) => Effect.succeed(withFault(legacy)))
        ).pipe(Layer.provide(netlink.layer(ours)))
      )
    )
  )

const failed = (message: string) => new CommandFailed({ message, exitCode: 1 })

/** Run the migration of one network on this node. */
const migrate = (
  settings: NetworkSettings,
  cache: CacheContents,
  options: { readonly mode: MigrationMode; readonly force: boolean; readonly dryRun: boolean }
): Effect.Effect<MigrationReport, CommandFailed> => {
  const { adapters } = settings
  const ours: RouteOwnership = { protocol: adapters.protocol, table: adapters.table, metric: adapters.metric }
  const subnets = settings.network.pools.flatMap((pool) => pool.ranges.map((r) => r.subnet))
  const inside = (address: Ip) => subnets.some((subnet) => contains(subnet, address))
  const containersOf = containersNaming(cache, settings.network.name)
  return migrateLegacy(
    settings.network,
    ours,
    (address) => (inside(address) ? containersOf(address) : []),
    options
  ).pipe(
    Effect.provide(Layer.mergeAll(servicesFor(settings), legacyRoutesLayer(ours))),
    Effect.mapError((e) =>
      e._tag === "CommandFailed"
        ? e
        : failed(
            `${e._tag === "RouteTableError" ? "routing table" : "attachment records"}: ${e.operation} failed: ${e.message}`
          )
    )
  )
}

/** `routetable-ipam migrate`. */
export const migrateCommand = Command.make("migrate", migrateFlags, (input) =>
  Effect.gen(function* () {
    if (input.force && !input.remove)
      return yield* new CommandFailed({
        message:
          "--force only applies to --remove: migrate never adopts an address without a known container (see --help)\nRun 'routetable-ipam migrate --help' for usage.",
        exitCode: 2
      })
    const settings = yield* readNetworkSettings(input.config, Option.getOrUndefined(input.network))
    const cache = yield* readCache(input.cniCacheDir).pipe(
      Effect.mapError((e) => failed(`--cni-cache-dir: ${e.message}`))
    )
    const mode: MigrationMode = input.remove ? "remove" : "adopt"
    const report = yield* migrate(settings, cache, { mode, force: input.force, dryRun: input.dryRun })
    const names = yield* readDeviceNames
    const network = settings.network.name
    const context = { network, dryRun: input.dryRun, cacheDir: input.cniCacheDir }
    const summary = summaryOf(report)
    if (input.json) {
      yield* Console.log(
        JSON.stringify({
          network,
          mode,
          dryRun: input.dryRun,
          cniCacheDir: input.cniCacheDir,
          cacheMissing: cache.missing,
          unreadableCacheEntries: cache.unreadable,
          steps: report.steps.map((step) => {
            const d = step.decision
            const owner = d._tag === "Skip" ? undefined : d.owner
            return {
              address: formatIp(step.address),
              action: d._tag === "Adopt" ? "adopt" : d._tag === "Remove" ? "remove" : "leave",
              reason: d._tag === "Skip" ? d.reason : null,
              owner:
                owner === undefined
                  ? null
                  : {
                      network: owner.network,
                      containerId: owner.containerId,
                      ifname: owner.ifname,
                      pod: owner.pod ?? null
                    },
              device: d._tag === "Adopt" ? deviceText(d.device, names) : null,
              done: step.done,
              note: step.note ?? null,
              error: step.error ?? null,
              message: describeStep(step, context, names)
            }
          }),
          summary
        })
      )
    } else {
      const legacyMetrics = `legacy = protocol ${settings.adapters.protocol}, metric ${legacyMetricOf(4)} (IPv4) / ${legacyMetricOf(6)} (IPv6); ours: metric ${settings.adapters.metric}`
      const lines = [
        `network ${network}: ${report.subnets.map(formatCidr).join(", ")} (${legacyMetrics})${input.dryRun ? " - dry run: nothing changed" : ""}`
      ]
      if (cache.missing)
        lines.push(`note: ${input.cniCacheDir} does not exist: no container is known (see --cni-cache-dir)`)
      for (const entry of cache.unreadable)
        lines.push(`note: skipped cache file ${entry.file}: ${entry.reason}`)
      if (report.steps.length === 0) lines.push("no legacy routes on this node")
      for (const step of report.steps) lines.push(describeStep(step, context, names))
      const verb = input.dryRun ? "would be " : ""
      lines.push(
        `${summary.adopt} ${verb}adopted, ${summary.remove} ${verb}removed, ${summary.leftLegacy} left legacy, ${summary.failed} failed`
      )
      yield* Console.log(lines.join("\n"))
    }
    if (summary.failed > 0)
      return yield* failed(`${summary.failed} step${summary.failed === 1 ? "" : "s"} failed`)
  })
).pipe(
  Command.withDescription(helpText(description)),
  Command.withShortDescription(
    "adopt (or --remove) the original Go plugin's routes on this node, with owner records from the CNI cache"
  ),
  Command.withExamples([
    { command: "routetable-ipam migrate --config /etc/cni/net.d --network pods --dry-run" },
    { command: "routetable-ipam migrate --config /etc/cni/net.d --network pods --json" },
    {
      command: "routetable-ipam migrate --config /etc/cni/net.d --network pods --remove --dry-run",
      description: "legacy routes no known container holds (leaks of the Go plugin)"
    }
  ])
)
