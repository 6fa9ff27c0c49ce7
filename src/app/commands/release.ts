// `routetable-ipam release --ip ADDR`: free one address safely (the domain's release rule, under the node lock) and say what was done.
import { Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { contains, formatCidr, formatIp, type Ip, parseIp } from "../../domain/Ip.ts"
import { subnetsOf } from "../../domain/Pool.ts"
import type { Attachment } from "../../domain/Attachments.ts"
import { namedBy } from "../../domain/Ownership.ts"
import { type ReleaseOneOutcome, releaseOne } from "../../domain/ReleaseOne.ts"
import { CommandFailed } from "../OperatorCommand.ts"
import { configFlag, dryRunFlag, helpText, jsonFlag, networkFlag, switchFlag } from "./CliFlags.ts"
import { servicesFor } from "./gc.ts"
import { readNetworkSettings } from "./NetworkConfigSource.ts"

const description = `Free one address of a network on this node, instead of \`ip route del\`. Only our own route is ever
deleted (our protocol, table and metric), and only when the release rule allows it:
  - a route of ours that no owner record of this boot names (an orphan) is released;
  - an address a live container's record names is refused, unless --force: then it is released
    on behalf of that record, and removed from it (the record is deleted if it named nothing else);
  - an address a record moved aside as corrupt names is always refused (remove that file first);
  - with no route of ours there is nothing to release (a learned route is another node's claim:
    release it on that node).
The decision and the release happen under the network's node lock, like ADD, DEL and gc.

Exit status: 0 when the address was released or there was nothing to release, 1 when it was
refused or the release failed, 2 for a usage error.`

const ownerText = (record: Attachment) => `${record.network}/${record.containerId}/${record.ifname}`

const refused = (message: string) => new CommandFailed({ message, exitCode: 1 })

/** One sentence for what was decided and done. */
export const describeOutcome = (address: Ip, outcome: ReleaseOneOutcome, dryRun: boolean): string => {
  const ip = formatIp(address)
  const d = outcome.decision
  switch (d._tag) {
    case "ReleaseOrphan":
      return dryRun
        ? `would release ${ip}: a route of ours that no owner record names (an orphan)`
        : `released ${ip}: deleted our route; no owner record named it`
    case "ReleaseForOwner": {
      if (dryRun)
        return `would release ${ip} on behalf of ${ownerText(d.owner)} (--force) and remove it from that record`
      if (!outcome.released) return `kept ${ip}: the release rule refused it on re-reading the records`
      const record = outcome.record
      return `released ${ip} on behalf of ${ownerText(d.owner)} (--force): deleted our route; ${
        record === "removed" || record === undefined
          ? "removed the record (it named nothing else)"
          : `the record now names ${namedBy(record).map(formatIp).join(", ")}`
      }`
    }
    case "NothingToRelease":
      return `nothing to release: no route of ours to ${ip} and no owner record names it`
    case "Owned":
      return `refused: ${ip} is held by ${ownerText(d.owner)} (a record of this boot). If that container is gone, let its runtime send DEL or run gc; --force releases it anyway`
    case "SeveralOwners":
      return `refused: ${ip} is named by several records (${d.owners.map(ownerText).join(", ")}); remove the wrong one first`
    case "Quarantined":
      return `refused: ${ip} is named by a record moved aside as corrupt (see \`list\`); remove that file from the data directory first`
  }
}

/** Whether the outcome is a refusal (exit status 1). */
const isRefusal = (outcome: ReleaseOneOutcome): boolean =>
  outcome.decision._tag === "Owned" ||
  outcome.decision._tag === "SeveralOwners" ||
  outcome.decision._tag === "Quarantined"

/** The flags of `release`. */
export const releaseFlags = {
  ip: Flag.String("ip").pipe(Flag.withMetavar("ADDR"), Flag.withDescription("the address to free")),
  config: configFlag,
  network: networkFlag(),
  dryRun: dryRunFlag("say what would be done; change nothing"),
  force: switchFlag(
    "force",
    "release an address a live record names, on behalf of that record, and remove it from the record"
  ),
  json: jsonFlag(
    'print one JSON object: {network, address, decision, dryRun, released, owner: {containerId, ifname} | null, record: "removed" | {addresses, pending} | null, message}'
  )
}

/** `routetable-ipam release`. */
export const releaseCommand = Command.make("release", releaseFlags, (input) =>
  Effect.gen(function* () {
    const address = parseIp(input.ip)
    if (Option.isNone(address))
      return yield* new CommandFailed({
        message: `--ip: ${JSON.stringify(input.ip)} is not an IP address\nRun 'routetable-ipam release --help' for usage.`,
        exitCode: 2
      })
    const settings = yield* readNetworkSettings(input.config, Option.getOrUndefined(input.network))
    const subnets = settings.network.pools.flatMap(subnetsOf)
    if (!subnets.some((subnet) => contains(subnet, address.value)))
      return yield* refused(
        `refused: ${input.ip} is outside network ${settings.network.name} (${subnets.map(formatCidr).join(", ")})`
      )
    const outcome = yield* releaseOne(settings.network.name, address.value, {
      force: input.force,
      dryRun: input.dryRun
    }).pipe(
      Effect.provide(servicesFor(settings)),
      Effect.mapError((e) =>
        e._tag === "CommandFailed"
          ? e
          : e._tag === "NodeLockTimeout"
            ? refused(
                `another ADD, DEL or GC held the lock of network ${e.network} for ${e.waitedMillis} ms; try again`
              )
            : refused(
                `${e._tag === "RouteTableError" ? "routing table" : "attachment records"}: ${e.operation} failed: ${e.message}`
              )
      )
    )
    const message = describeOutcome(address.value, outcome, input.dryRun)
    const owner =
      outcome.decision._tag === "Owned" || outcome.decision._tag === "ReleaseForOwner"
        ? outcome.decision.owner
        : undefined
    if (input.json) {
      yield* Console.log(
        JSON.stringify({
          network: settings.network.name,
          address: formatIp(address.value),
          decision: outcome.decision._tag,
          dryRun: input.dryRun,
          released: outcome.released,
          owner: owner === undefined ? null : { containerId: owner.containerId, ifname: owner.ifname },
          record:
            outcome.record === undefined
              ? null
              : outcome.record === "removed"
                ? "removed"
                : {
                    addresses: outcome.record.addresses.map(formatIp),
                    pending: outcome.record.pending.map(formatIp)
                  },
          message
        })
      )
      if (isRefusal(outcome)) return yield* new CommandFailed({ message: "refused", exitCode: 1 })
      return
    }
    if (isRefusal(outcome)) return yield* refused(message)
    yield* Console.log(message)
  })
).pipe(
  Command.withDescription(helpText(description)),
  Command.withShortDescription(
    "free one address safely (only a route of ours with no live owner, unless --force)"
  ),
  Command.withExamples([
    { command: "routetable-ipam release --config /etc/cni/net.d --ip 100.64.0.9 --dry-run" },
    { command: "routetable-ipam release --config /etc/cni/net.d --network pods --ip 100.64.0.9" }
  ])
)
