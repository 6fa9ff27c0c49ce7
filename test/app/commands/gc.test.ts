// `gc`: flag parsing, which owners are kept, and the dry-run plan (which must match what collectGarbage releases).
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { decodeNetworkConfig } from "../../../src/adapters/cni/NetworkSettings.ts"
import {
  defaultGraceMillis,
  formatOutcome,
  type GcFlags,
  type GcOutcome,
  gcFlags,
  gcFlagsOf,
  outcomeToJson,
  parseKeep
} from "../../../src/app/commands/gc.ts"
import { CommandFailed } from "../../../src/app/OperatorCommand.ts"
import type { Attachment } from "../../../src/domain/Attachments.ts"
import { type Ip, parseIp } from "../../../src/domain/Ip.ts"
import type { Network } from "../../../src/domain/Network.ts"
import type { Route } from "../../../src/domain/Route.ts"
import { parseErrorsOf, parseWith, runCli } from "./CliHarness.ts"

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

const flagsOf = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const flags = gcFlagsOf(yield* parseWith(gcFlags, args))
    if (flags instanceof CommandFailed) throw new Error(`unexpected usage error: ${flags.message}`)
    return flags
  })

/** The parse error effect/cli reports for `args`. */
const parseErrorOf = (args: ReadonlyArray<string>) =>
  Effect.map(Effect.flip(parseWith(gcFlags, args)), parseErrorsOf)

/** The usage error (exit 2) gc itself reports for `args` (malformed --keep). */
const usageErrorOf = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const value = gcFlagsOf(yield* parseWith(gcFlags, args))
    assert.instanceOf(value, CommandFailed)
    const failure = value as CommandFailed
    assert.strictEqual(failure.exitCode, 2)
    return failure.message
  })

const _owners = (list: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>) =>
  list.map((o) => `${o.containerId}/${o.ifname}`).sort()

describe("gc", () => {
  describe("flags", () => {
    it.effect("defaults: no --keep (keep complete records), a 60 s grace, no dry run", () =>
      Effect.gen(function* () {
        const flags: GcFlags = yield* flagsOf(["--config", "/etc/cni/net.d"])
        assert.deepStrictEqual(flags, {
          network: undefined,
          keep: undefined,
          graceMillis: defaultGraceMillis,
          dryRun: false
        })
        assert.strictEqual(defaultGraceMillis, 60_000)
        const parsed = yield* parseWith(gcFlags, ["--config", "/etc/cni/net.d"])
        assert.strictEqual(parsed.config, "/etc/cni/net.d")
        assert.isFalse(parsed.json)
      })
    )

    it.effect("--keep is repeatable; --network, --dry-run, --json, --grace", () =>
      Effect.gen(function* () {
        const args = [
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
        ]
        const flags = yield* flagsOf(args)
        assert.deepStrictEqual(flags.keep, [
          { containerId: "3f2a", ifname: "eth0" },
          { containerId: "77b1.x_y-z", ifname: "net1" }
        ])
        assert.strictEqual(flags.network, "pods")
        assert.isTrue(flags.dryRun)
        assert.strictEqual(flags.graceMillis, 90_000)
        assert.isTrue((yield* parseWith(gcFlags, args)).json)
      })
    )

    it.effect("--grace goes through the one duration parser: a bare number is milliseconds", () =>
      Effect.gen(function* () {
        for (const [text, ms] of [
          ["250ms", 250],
          ["1.5s", 1500],
          ["5m", 300_000],
          ["1h", 3_600_000],
          ["0", 0],
          ["45", 45]
        ] as const) {
          assert.strictEqual((yield* flagsOf(["--config", "c", "--grace", text])).graceMillis, ms, text)
        }
      })
    )

    it.effect("usage errors: unknown flag, positional, missing --config, malformed --grace or --keep", () =>
      Effect.gen(function* () {
        assert.match(yield* parseErrorOf(["--config", "c", "--force"]), /--force/)
        assert.match(yield* parseErrorOf(["--config", "c", "pods"]), /pods/)
        assert.match(yield* parseErrorOf(["--dry-run"]), /--config/)
        assert.match(
          yield* parseErrorOf(["--config", "c", "--grace", "soon"]),
          /--grace.*"soon" is not a duration/
        )
        assert.match(yield* parseErrorOf(["--config", "c", "--grace=-5s"]), /"-5s" is not a duration/)
        assert.match(yield* usageErrorOf(["--config", "c", "--keep", "3f2a"]), /is not CONTAINERID\/IFNAME/)
        assert.match(yield* usageErrorOf(["--config", "c", "--keep", "a/b/c"]), /is not CONTAINERID\/IFNAME/)
        assert.match(yield* usageErrorOf(["--config", "c", "--keep", "_x/eth0"]), /containerId/)
        assert.match(yield* usageErrorOf(["--config", "c", "--keep", "abc/"]), /ifname: must not be empty/)
        assert.match(yield* usageErrorOf(["--config", "c", "--keep", "abc/a-very-long-ifname0"]), /ifname/)
      })
    )

    it("parseKeep splits container ID and interface", () => {
      assert.deepStrictEqual(parseKeep("c1/eth0"), { containerId: "c1", ifname: "eth0" })
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
    it.effect("without --config: usage error, exit 2, the help on stdout and the error on stderr", () =>
      Effect.gen(function* () {
        const run = yield* runCli(["gc", "--dry-run"])
        assert.strictEqual(run.code, 2)
        assert.match(run.stdout, /routetable-ipam gc \[flags\]/)
        assert.match(run.stderr, /--config/)
      })
    )

    it.effect("a config that cannot be read: exit 1, nothing read from the kernel", () =>
      Effect.gen(function* () {
        const run = yield* runCli(["gc", "--config", "/nonexistent/gc-test.conf"])
        assert.strictEqual(run.code, 1)
        assert.match(run.stderr, /^routetable-ipam gc: --config: .*ENOENT/)
      })
    )
  })
})
