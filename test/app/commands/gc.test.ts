// `gc`: flag parsing, which owners are kept, and the dry-run plan (which must match what collectGarbage releases).
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as MemoryAttachments from "../../../src/adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../../src/adapters/MemoryRouteTable.ts"
import { decodeNetworkConfig } from "../../../src/adapters/cni/NetworkSettings.ts"
import {
  command,
  decideKeep,
  defaultGraceMillis,
  formatOutcome,
  type GcFlags,
  type GcOutcome,
  outcomeToJson,
  parseFlags,
  parseGrace,
  parseKeep,
  planCollection
} from "../../../src/app/commands/gc.ts"
import { CommandFailed } from "../../../src/app/OperatorCommand.ts"
import { collectGarbage } from "../../../src/domain/Attach.ts"
import { type Attachment, Attachments } from "../../../src/domain/Attachments.ts"
import { formatIp, type Ip, parseIp } from "../../../src/domain/Ip.ts"
import type { Network } from "../../../src/domain/Network.ts"
import type { Route } from "../../../src/domain/Route.ts"
import { RouteTable } from "../../../src/domain/RouteTable.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))

/** A dual-stack network whose v4 range is 100.64.0.10-100.64.0.200 inside 100.64.0.0/24. */
const network: Network = (() => {
  const settings = decodeNetworkConfig({
    cniVersion: "1.0.0",
    name: "pods",
    ipam: {
      type: "routetable-ipam",
      ranges: [
        [{ subnet: "100.64.0.0/24", rangeStart: "100.64.0.10", rangeEnd: "100.64.0.200" }],
        [{ subnet: "fd00:64::/120" }]
      ]
    }
  })
  if (settings instanceof Error) throw new Error(settings.msg)
  return settings.network
})()

const record = (
  containerId: string,
  addresses: ReadonlyArray<string>,
  pending: ReadonlyArray<string> = []
): Attachment => ({
  network: "pods",
  containerId,
  ifname: "eth0",
  addresses: addresses.map(at),
  pending: pending.map(at)
})

const ours = (host: string): Route => ({
  host: at(host),
  origin: "ours",
  protocol: 192,
  table: 254,
  metric: 4096
})
const other = (host: string, protocol = 12): Route => ({
  host: at(host),
  origin: "other",
  protocol,
  table: 254,
  metric: 32
})

const flagsOf = (args: ReadonlyArray<string>): GcFlags => {
  const flags = parseFlags(args)
  if (flags instanceof CommandFailed) throw new Error(`unexpected usage error: ${flags.message}`)
  return flags
}

const usageErrorOf = (value: unknown): string => {
  assert.instanceOf(value, CommandFailed)
  const failure = value as CommandFailed
  assert.strictEqual(failure.exitCode, 2)
  return failure.message
}

const owners = (list: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>) =>
  list.map((o) => `${o.containerId}/${o.ifname}`).sort()

describe("gc", () => {
  describe("parseFlags", () => {
    it("defaults: no --keep (keep complete records), a 60 s grace, no dry run", () => {
      const flags = flagsOf(["--config", "/etc/cni/net.d"])
      assert.deepStrictEqual(flags, {
        config: "/etc/cni/net.d",
        network: undefined,
        keep: undefined,
        graceMillis: defaultGraceMillis,
        dryRun: false,
        json: false,
        help: false
      })
      assert.strictEqual(defaultGraceMillis, 60_000)
    })

    it("--keep is repeatable; --network, --dry-run, --json, --grace", () => {
      const flags = flagsOf([
        "--config=c.conf",
        "--network",
        "pods",
        "--keep",
        "3f2a/eth0",
        "--keep=77b1.x_y-z/net1",
        "--dry-run",
        "--json",
        "--grace",
        "90s"
      ])
      assert.deepStrictEqual(flags.keep, [
        { containerId: "3f2a", ifname: "eth0" },
        { containerId: "77b1.x_y-z", ifname: "net1" }
      ])
      assert.strictEqual(flags.network, "pods")
      assert.isTrue(flags.dryRun)
      assert.isTrue(flags.json)
      assert.strictEqual(flags.graceMillis, 90_000)
    })

    it("usage errors (exit 2): unknown flag, positional, malformed --keep or --grace", () => {
      assert.match(usageErrorOf(parseFlags(["--force"])), /--force/)
      assert.match(usageErrorOf(parseFlags(["pods"])), /pods/)
      assert.match(usageErrorOf(parseFlags(["--keep", "3f2a"])), /is not CONTAINERID\/IFNAME/)
      assert.match(usageErrorOf(parseFlags(["--keep", "a/b/c"])), /is not CONTAINERID\/IFNAME/)
      assert.match(usageErrorOf(parseFlags(["--keep", "_x/eth0"])), /containerId/)
      assert.match(usageErrorOf(parseFlags(["--keep", "abc/"])), /ifname: must not be empty/)
      assert.match(usageErrorOf(parseFlags(["--keep", "abc/a-very-long-ifname0"])), /ifname/)
      assert.match(usageErrorOf(parseFlags(["--grace", "soon"])), /--grace/)
      assert.match(usageErrorOf(parseFlags(["--grace=-5s"])), /--grace: "-5s" is not a duration/)
    })

    it("parseKeep splits container ID and interface", () => {
      assert.deepStrictEqual(parseKeep("c1/eth0"), { containerId: "c1", ifname: "eth0" })
    })

    it("parseGrace: ms, s, m, h, bare seconds", () => {
      assert.strictEqual(parseGrace("250ms"), 250)
      assert.strictEqual(parseGrace("1.5s"), 1500)
      assert.strictEqual(parseGrace("5m"), 300_000)
      assert.strictEqual(parseGrace("1h"), 3_600_000)
      assert.strictEqual(parseGrace("0"), 0)
      assert.strictEqual(parseGrace("45"), 45_000)
    })
  })

  describe("decideKeep", () => {
    const complete = record("done", ["100.64.0.11", "fd00:64::11"])
    const crashed = record("crashed", ["100.64.0.12"], ["fd00:64::12"])
    const gone = record("gone", ["100.64.0.13"])
    const never = () => false

    it("without --keep: every complete record, no record with a pending address", () => {
      const decision = decideKeep([complete, crashed, gone], undefined, never)
      assert.deepStrictEqual(owners(decision.valid), ["done/eth0", "gone/eth0"])
      assert.deepStrictEqual(decision.recent, [])
    })

    it("with --keep: exactly the listed owners, whatever their records say", () => {
      const decision = decideKeep(
        [complete, crashed, gone],
        [{ containerId: "crashed", ifname: "eth0" }],
        never
      )
      assert.deepStrictEqual(owners(decision.valid), ["crashed/eth0"])
    })

    it("records within the grace period are kept and reported as recent", () => {
      const recent = (r: Attachment) => r === crashed || r === gone
      const defaultMode = decideKeep([complete, crashed, gone], undefined, recent)
      assert.deepStrictEqual(owners(defaultMode.valid), ["crashed/eth0", "done/eth0", "gone/eth0"])
      assert.deepStrictEqual(owners(defaultMode.recent), ["crashed/eth0"], "gone is kept as complete anyway")
      const keepMode = decideKeep(
        [complete, crashed, gone],
        [{ containerId: "done", ifname: "eth0" }],
        recent
      )
      assert.deepStrictEqual(owners(keepMode.valid), ["crashed/eth0", "done/eth0", "gone/eth0"])
      assert.deepStrictEqual(owners(keepMode.recent), ["crashed/eth0", "gone/eth0"])
    })
  })

  describe("planCollection", () => {
    const kept = record("kept", ["100.64.0.11", "fd00:64::11"])
    const crashed = record("crashed", ["100.64.0.12"], ["fd00:64::12"])
    const routes = [
      ours("100.64.0.11"),
      ours("fd00:64::11"),
      ours("100.64.0.12"),
      ours("fd00:64::12"),
      ours("100.64.0.99"), // orphan
      ours("fd00:64::99"), // orphan
      other("100.64.0.98"), // learned: another node's claim
      other("100.64.0.97", 4), // another protocol
      ours("100.64.0.5") // ours by protocol, but outside the range (before rangeStart)
    ]
    const valid = [{ containerId: "kept", ifname: "eth0" }]

    it("releases records not valid and our in-range routes no record names; nothing else", () => {
      const plan = planCollection(network, [kept, crashed], routes, valid)
      assert.deepStrictEqual(owners(plan.attachments), ["crashed/eth0"])
      assert.deepStrictEqual(plan.routes.map(formatIp), ["100.64.0.99", "fd00:64::99"])
    })

    it("a route a released record names is released with the record, not listed again", () => {
      const plan = planCollection(network, [kept, crashed], routes, [])
      assert.deepStrictEqual(owners(plan.attachments), ["crashed/eth0", "kept/eth0"])
      assert.deepStrictEqual(plan.routes.map(formatIp), ["100.64.0.99", "fd00:64::99"])
    })

    it("nothing to do when every route of ours is explained", () => {
      const plan = planCollection(network, [kept], [ours("100.64.0.11"), other("100.64.0.99")], valid)
      assert.deepStrictEqual(plan, { attachments: [], routes: [] })
    })

    it.effect("predicts exactly what collectGarbage releases (memory adapters)", () =>
      Effect.gen(function* () {
        const table = yield* MemoryRouteTable.make()
        const store = yield* MemoryAttachments.make
        for (const route of routes) {
          yield* table.addOther({ host: route.host, protocol: route.protocol })
        }
        for (const r of [kept, crashed]) yield* store.put(r)
        for (const validOwners of [valid, []]) {
          const before = yield* table.snapshot
          const records = yield* store.list("pods")
          const plan = planCollection(network, records, before, validOwners)
          const services = Context.make(RouteTable, table.table).pipe(Context.add(Attachments, store))
          const report = yield* collectGarbage(network, validOwners).pipe(Effect.provide(services))
          assert.deepStrictEqual(owners(report.releasedAttachments), owners(plan.attachments))
          assert.deepStrictEqual(report.releasedRoutes.map(formatIp), plan.routes.map(formatIp))
          assert.deepStrictEqual(report.errors, [])
        }
        const left = (yield* table.snapshot).map((r) => `${formatIp(r.host)} ${r.protocol}`)
        assert.deepStrictEqual(left, ["100.64.0.5 192", "100.64.0.97 4", "100.64.0.98 12"])
      })
    )
  })

  describe("output", () => {
    const outcome: GcOutcome = {
      network: "pods",
      dryRun: true,
      attachments: [record("crashed", ["100.64.0.12"], ["fd00:64::12"])],
      routes: [at("100.64.0.99")],
      kept: [{ containerId: "kept", ifname: "eth0" }],
      recent: [{ containerId: "young", ifname: "eth0" }],
      errors: []
    }

    it("text names every release, the kept count and recent records", () => {
      assert.strictEqual(
        formatOutcome(outcome),
        [
          "network pods (dry run: nothing changed)",
          "would release attachment crashed/eth0: 100.64.0.12, fd00:64::12 (pending)",
          "would release route 100.64.0.99 (no owner record)",
          "kept 1 attachment",
          "kept as too recent (within the grace period): young/eth0"
        ].join("\n")
      )
      const done = formatOutcome({ ...outcome, dryRun: false, attachments: [], routes: [], errors: ["boom"] })
      assert.strictEqual(
        done,
        "network pods\nnothing to release\nkept 1 attachment\nkept as too recent (within the grace period): young/eth0\nerror: boom"
      )
    })

    it("JSON", () => {
      assert.deepStrictEqual(outcomeToJson(outcome), {
        network: "pods",
        dryRun: true,
        released: {
          attachments: [
            { containerId: "crashed", ifname: "eth0", addresses: ["100.64.0.12"], pending: ["fd00:64::12"] }
          ],
          routes: ["100.64.0.99"]
        },
        kept: [{ containerId: "kept", ifname: "eth0" }],
        recent: [{ containerId: "young", ifname: "eth0" }],
        errors: []
      })
    })
  })

  describe("command", () => {
    it.effect("without --config: usage error, exit 2", () =>
      Effect.gen(function* () {
        const failure = yield* Effect.flip(command.run(["--dry-run"]))
        assert.strictEqual(failure.exitCode, 2)
        assert.match(failure.message, /--config/)
      })
    )

    it.effect("a config without our plugin: exit 1, nothing read from the kernel", () =>
      Effect.gen(function* () {
        const failure = yield* Effect.flip(command.run(["--config", "/nonexistent/gc-test.conf"]))
        assert.strictEqual(failure.exitCode, 1)
        assert.match(failure.message, /^--config: .*ENOENT/)
      })
    )
  })
})
