// `migrate`'s command line: which cache entries name an address, what each step says, flags and usage errors.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { containersNaming, describeStep, migrateFlags } from "../../../src/app/commands/migrate.ts"
import type { CachedAttachment } from "../../../src/adapters/CniResultCache.ts"
import { type Ip, parseIp } from "../../../src/domain/Ip.ts"
import type { MigrationStep } from "../../../src/domain/Migration.ts"
import { parseWith, runCli } from "./CliHarness.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const entry = (containerId: string, network: string, addresses: ReadonlyArray<string>): CachedAttachment => ({
  file: `/c/${network}-${containerId}-eth0`,
  network,
  containerId,
  ifname: "eth0",
  addresses: addresses.map(at)
})

describe("migrate command", () => {
  it("cache entries of the network's own name win; without one, any entry naming the address counts", () => {
    const naming = containersNaming(
      {
        entries: [
          entry("a", "pods", ["100.64.0.5"]),
          entry("b", "vxlan", ["100.64.0.5"]),
          entry("c", "vxlan", ["100.64.0.6"])
        ],
        unreadable: [],
        missing: false
      },
      "pods"
    )
    assert.deepStrictEqual(
      naming(at("100.64.0.5")).map((c) => c.containerId),
      ["a"]
    )
    assert.deepStrictEqual(naming(at("100.64.0.6")), [{ containerId: "c", ifname: "eth0", network: "vxlan" }])
    assert.deepStrictEqual(naming(at("100.64.0.7")), [])
  })

  it("says what it did or would do, and why an address stays legacy", () => {
    const context = { network: "pods", dryRun: false, cacheDir: "/var/lib/cni/results" }
    const names = new Map([[3, "br0"]])
    const step = (
      decision: MigrationStep["decision"],
      extra: Partial<MigrationStep> = {}
    ): MigrationStep => ({
      address: at("100.64.0.5"),
      decision,
      done: true,
      ...extra
    })
    const owner = {
      containerId: "c1",
      ifname: "eth0",
      network: "pods",
      pod: { namespace: "shop", name: "web" }
    }
    assert.strictEqual(
      describeStep(step({ _tag: "Adopt", owner, device: 3 }), context, names),
      "adopted 100.64.0.5 for pods/c1/eth0 (shop/web) through br0"
    )
    assert.strictEqual(
      describeStep(step({ _tag: "Adopt", owner, device: 9 }), { ...context, dryRun: true }, names),
      "would adopt 100.64.0.5 for pods/c1/eth0 (shop/web) through #9"
    )
    assert.strictEqual(
      describeStep(step({ _tag: "Remove", owner: undefined }), context, names),
      "removed legacy route 100.64.0.5 (no container known)"
    )
    assert.match(
      describeStep(
        step({ _tag: "Skip", reason: "UnknownContainer", containers: [] }, { done: false }),
        context,
        names
      ),
      /^left 100\.64\.0\.5 legacy: no container in the CNI result cache \(\/var\/lib\/cni\/results\) names it: .*released by the next gc/
    )
    assert.match(
      describeStep(
        step({ _tag: "Adopt", owner, device: 3 }, { done: false, error: "adopt failed: EPERM" }),
        context,
        names
      ),
      /^adopt 100\.64\.0\.5 .* - FAILED: adopt failed: EPERM \(the legacy route or ours still holds it; run migrate again\)$/
    )
  })

  it.effect(
    "flags: the cache directory defaults to libcni's; --force without --remove is a usage error (2)",
    () =>
      Effect.gen(function* () {
        const parsed = yield* parseWith(migrateFlags, ["--config", "/etc/cni/net.d"])
        assert.strictEqual(parsed.cniCacheDir, "/var/lib/cni/results")
        assert.isFalse(parsed.remove)
        assert.isFalse(parsed.dryRun)
        const run = yield* runCli(["migrate", "--config", "/nonexistent", "--force"])
        assert.strictEqual(run.code, 2)
        assert.include(run.stderr, "--force only applies to --remove")
        const help = yield* runCli(["migrate", "--help"])
        assert.strictEqual(help.code, 0)
        assert.include(help.stdout, "--cni-cache-dir")
        const top = yield* runCli(["--help"])
        assert.match(top.stdout, /^ {2}migrate +\S/m)
      })
  )
})
