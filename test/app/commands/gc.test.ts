// `gc`: flag parsing, which owners are kept, and the dry-run plan (which must match what collectGarbage releases).
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { decodeNetworkConfig } from "../../../src/adapters/cni/NetworkSettings.ts"
import {
  command,
  defaultGraceMillis,
  formatOutcome,
  type GcFlags,
  type GcOutcome,
  outcomeToJson,
  parseFlags,
  parseGrace,
  parseKeep
} from "../../../src/app/commands/gc.ts"
import { CommandFailed } from "../../../src/app/OperatorCommand.ts"
import type { Attachment } from "../../../src/domain/Attachments.ts"
import { type Ip, parseIp } from "../../../src/domain/Ip.ts"
import type { Network } from "../../../src/domain/Network.ts"
import type { Route } from "../../../src/domain/Route.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))

/** A dual-stack network whose v4 range is 100.64.0.10-100.64.0.200 inside 100.64.0.0/24. */
const _network: Network = (() => {
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

const _ours = (host: string): Route => ({
  host: at(host),
  origin: "ours",
  protocol: 192,
  table: 254,
  metric: 4096
})
const _other = (host: string, protocol = 12): Route => ({
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

const _owners = (list: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>) =>
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

  describe("output", () => {
    const outcome: GcOutcome = {
      network: "pods",
      dryRun: true,
      attachments: [record("crashed", ["100.64.0.12"], ["fd00:64::12"])],
      forgotten: [record("rebooted", ["100.64.0.13"])],
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
          "would forget record rebooted/eth0 (written before the last reboot; no route touched)",
          "would release route 100.64.0.99 (no owner record)",
          "kept 1 attachment",
          "kept as too recent (within the grace period): young/eth0"
        ].join("\n")
      )
      const done = formatOutcome({
        ...outcome,
        dryRun: false,
        attachments: [],
        forgotten: [],
        routes: [],
        errors: ["boom"]
      })
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
          routes: ["100.64.0.99"],
          forgotten: [{ containerId: "rebooted", ifname: "eth0" }]
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
