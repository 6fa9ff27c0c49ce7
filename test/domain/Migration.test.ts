// Migrating from the Go plugin in the domain: which legacy routes are adopted, removed or left (and why), and that a crash at any step leaves every address held.
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as MemoryAttachments from "../../src/adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import { detach } from "../../src/domain/Attach.ts"
import { type Attachment, Attachments } from "../../src/domain/Attachments.ts"
import { defaultClaimPolicy } from "../../src/domain/ClaimPolicy.ts"
import { collectGarbage } from "../../src/domain/Collection.ts"
import { formatIp, type Ip, parseIp } from "../../src/domain/Ip.ts"
import { isLegacy, LegacyRoutes, legacyMetricOf } from "../../src/domain/LegacyRoute.ts"
import { migrateLegacy } from "../../src/domain/Migration.ts"
import {
  decideMigration,
  type KnownContainer,
  type MigrationInput
} from "../../src/domain/MigrationDecision.ts"
import type { Network } from "../../src/domain/Network.ts"
import { holdingsFrom } from "../../src/domain/Ownership.ts"
import { InvalidPool, makePool } from "../../src/domain/Pool.ts"
import type { Route } from "../../src/domain/Route.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const ours = { protocol: 192, table: 254, metric: 4096 } as const
const legacyRoute = (host: string, device: number | null = 7): Route => ({
  host: at(host),
  origin: "other",
  protocol: 192,
  table: 254,
  metric: legacyMetricOf(at(host).family),
  ...(device === null ? {} : { device })
})
const ourRoute = (host: string): Route => ({ host: at(host), origin: "ours", ...ours, device: 7 })
const learned = (host: string): Route => ({
  host: at(host),
  origin: "other",
  protocol: 12,
  table: 254,
  metric: 32,
  nextHop: at("198.18.0.2")
})
const container = (containerId: string): KnownContainer => ({ containerId, ifname: "eth0", network: "pods" })
const record = (containerId: string, addresses: ReadonlyArray<string>, pending: ReadonlyArray<string> = []) =>
  ({
    network: "pods",
    containerId,
    ifname: "eth0",
    addresses: addresses.map(at),
    pending: pending.map(at),
    boot: "b1"
  }) satisfies Attachment

const decide = (overrides: Partial<MigrationInput> & Pick<MigrationInput, "routes">) =>
  decideMigration({
    network: "pods",
    address: at("100.64.0.5"),
    holdings: holdingsFrom([], [], "b1"),
    containers: [container("c1")],
    ours,
    mode: "adopt",
    force: false,
    ...overrides
  })

describe("isLegacy", () => {
  it("our protocol and table with the Go plugin's metric (0 for IPv4, 1024 for IPv6) and no next hop", () => {
    assert.isTrue(isLegacy(legacyRoute("100.64.0.5"), ours))
    assert.isTrue(isLegacy(legacyRoute("fd00:64::5"), ours))
    assert.strictEqual(legacyRoute("fd00:64::5").metric, 1024)
    // negative controls: each property on its own makes it something else
    assert.isFalse(isLegacy(ourRoute("100.64.0.5"), ours), "ours")
    assert.isFalse(isLegacy({ ...legacyRoute("100.64.0.5"), metric: 1024 }, ours), "IPv4 with metric 1024")
    assert.isFalse(isLegacy({ ...legacyRoute("fd00:64::5"), metric: 0 }, ours), "IPv6 with metric 0")
    assert.isFalse(isLegacy({ ...legacyRoute("100.64.0.5"), protocol: 12 }, ours), "BIRD's")
    assert.isFalse(isLegacy({ ...legacyRoute("100.64.0.5"), table: 100 }, ours), "another table")
    assert.isFalse(
      isLegacy({ ...legacyRoute("100.64.0.5"), nextHop: at("198.18.0.2") }, ours),
      "via a gateway"
    )
    assert.isFalse(isLegacy(learned("100.64.0.5"), ours))
    assert.isFalse(
      isLegacy({ ...legacyRoute("fd00:64::5") }, { ...ours, metric: 1024 }),
      "a configured metric equal to the Go plugin's makes the route ours, never legacy"
    )
  })
})

describe("decideMigration", () => {
  it("adopts a legacy route whose one container the cache names, through the legacy route's device", () => {
    assert.deepStrictEqual(decide({ routes: [legacyRoute("100.64.0.5")] }), {
      _tag: "Adopt",
      owner: container("c1"),
      device: 7
    })
  })

  it("leaves it legacy without a known container (an adopted route without a record would be gc's orphan)", () => {
    const d = decide({ routes: [legacyRoute("100.64.0.5")], containers: [] })
    assert.deepStrictEqual(d, { _tag: "Skip", reason: "UnknownContainer", containers: [] })
  })

  it("leaves it with several containers, a record of another container, a conflict, or no device", () => {
    const reason = (d: ReturnType<typeof decide>) => (d._tag === "Skip" ? d.reason : d._tag)
    assert.strictEqual(
      reason(decide({ routes: [legacyRoute("100.64.0.5")], containers: [container("c1"), container("c2")] })),
      "SeveralContainers"
    )
    const other = holdingsFrom([record("c9", ["100.64.0.5"])], [], "b1")
    assert.strictEqual(
      reason(decide({ routes: [legacyRoute("100.64.0.5")], holdings: other })),
      "HeldByRecord"
    )
    // negative control: the container's own record (an adoption that crashed midway) is resumed
    const own = holdingsFrom([record("c1", [], ["100.64.0.5"])], [], "b1")
    assert.strictEqual(
      reason(decide({ routes: [legacyRoute("100.64.0.5"), ourRoute("100.64.0.5")], holdings: own })),
      "Adopt"
    )
    // a stale record (another boot) holds nothing
    const stale = holdingsFrom([{ ...record("c9", ["100.64.0.5"]), boot: "b0" }], [], "b1")
    assert.strictEqual(reason(decide({ routes: [legacyRoute("100.64.0.5")], holdings: stale })), "Adopt")
    assert.strictEqual(
      reason(decide({ routes: [legacyRoute("100.64.0.5"), learned("100.64.0.5")] })),
      "Conflict"
    )
    assert.strictEqual(reason(decide({ routes: [legacyRoute("100.64.0.5", null)] })), "NoDevice")
    assert.strictEqual(reason(decide({ routes: [ourRoute("100.64.0.5")] })), "NotLegacy")
    assert.strictEqual(reason(decide({ routes: [] })), "NotLegacy")
  })

  it("--remove deletes only what no known container holds, unless forced", () => {
    const remove = (overrides: Partial<MigrationInput>) =>
      decide({ routes: [legacyRoute("100.64.0.5")], mode: "remove", ...overrides })
    assert.deepStrictEqual(remove({ containers: [] }), { _tag: "Remove", owner: undefined })
    assert.deepStrictEqual(remove({}), {
      _tag: "Skip",
      reason: "KnownContainer",
      containers: [container("c1")]
    })
    assert.deepStrictEqual(remove({ force: true }), { _tag: "Remove", owner: container("c1") })
    // a record naming it without our route: an adoption in progress; deleting would leave nothing
    const pending = holdingsFrom([record("c1", [], ["100.64.0.5"])], [], "b1")
    assert.strictEqual(remove({ containers: [], holdings: pending })._tag, "Skip")
    assert.deepStrictEqual(
      remove({
        containers: [],
        holdings: pending,
        routes: [legacyRoute("100.64.0.5"), ourRoute("100.64.0.5")]
      }),
      { _tag: "Remove", owner: undefined }
    )
  })
})

const poolOf = (subnet: string) => {
  const p = makePool("r", [{ subnet }])
  if (p instanceof InvalidPool) throw new Error(p.message)
  return p
}
const network: Network = {
  name: "pods",
  pools: [poolOf("100.64.0.0/24"), poolOf("fd00:64::/120")],
  policy: { ...defaultClaimPolicy, propagationTimeout: Duration.millis(50) }
}
const known: Record<string, KnownContainer> = {
  "100.64.0.5": container("c1"),
  "fd00:64::5": container("c1"),
  "100.64.0.6": container("c2")
}
const containersOf = (address: Ip) => {
  const found = known[formatIp(address)]
  return found === undefined ? [] : [found]
}
const legacyAddresses = ["100.64.0.5", "fd00:64::5", "100.64.0.6", "100.64.0.7"]

/** A memory node with legacy routes to .5 and fd00:64::5 (c1), .6 (c2) and .7 (no known container). */
const node = Effect.gen(function* () {
  const table = yield* MemoryRouteTable.make()
  const store = yield* MemoryAttachments.make
  for (const host of legacyAddresses)
    yield* table.addOther({
      host: at(host),
      protocol: 192,
      metric: legacyMetricOf(at(host).family),
      device: 7
    })
  const services = Context.make(RouteTable, table.table).pipe(
    Context.add(Attachments, store),
    Context.add(LegacyRoutes, table.legacy)
  )
  const state = Effect.gen(function* () {
    const routes = yield* table.snapshot
    const kinds = (host: string) =>
      routes
        .filter((r) => formatIp(r.host) === host)
        .map((r) => (r.origin === "ours" ? "ours" : isLegacy(r, ours) ? "legacy" : "other"))
    return Object.fromEntries(legacyAddresses.map((host) => [host, kinds(host)]))
  })
  return { table, store, services, state }
})

describe("migrateLegacy", () => {
  it.effect(
    "a dry run plans and changes nothing; a run adopts known containers' addresses with a record",
    () =>
      Effect.gen(function* () {
        const { store, services, state } = yield* node
        const before = yield* state
        const plan = yield* migrateLegacy(network, ours, containersOf, {
          mode: "adopt",
          force: false,
          dryRun: true
        }).pipe(Effect.provide(services))
        assert.deepStrictEqual(
          plan.steps.map((s) => [formatIp(s.address), s.decision._tag, s.done]),
          [
            ["100.64.0.5", "Adopt", false],
            ["100.64.0.6", "Adopt", false],
            ["100.64.0.7", "Skip", false],
            ["fd00:64::5", "Adopt", false]
          ]
        )
        assert.deepStrictEqual(yield* state, before)
        assert.deepStrictEqual(yield* store.list("pods"), [])

        const run = yield* migrateLegacy(network, ours, containersOf, {
          mode: "adopt",
          force: false,
          dryRun: false
        }).pipe(Effect.provide(services))
        assert.deepStrictEqual(
          run.steps.map((s) => [formatIp(s.address), s.decision._tag, s.done, s.error]),
          [
            ["100.64.0.5", "Adopt", true, undefined],
            ["100.64.0.6", "Adopt", true, undefined],
            ["100.64.0.7", "Skip", false, undefined],
            ["fd00:64::5", "Adopt", true, undefined]
          ]
        )
        assert.deepStrictEqual(yield* state, {
          "100.64.0.5": ["ours"],
          "fd00:64::5": ["ours"],
          "100.64.0.6": ["ours"],
          "100.64.0.7": ["legacy"]
        })
        const c1 = yield* store.get({ network: "pods", containerId: "c1", ifname: "eth0" })
        assert.deepStrictEqual(c1?.addresses.map(formatIp), ["100.64.0.5", "fd00:64::5"])
        assert.deepStrictEqual(c1?.pending, [])
      })
  )

  it.effect(
    "gc never releases a legacy route; after adoption DEL of the container releases its addresses",
    () =>
      Effect.gen(function* () {
        const { services, state } = yield* node
        yield* collectGarbage(network, { graceMillis: 0 }).pipe(Effect.provide(services))
        assert.deepStrictEqual(
          Object.values(yield* state),
          legacyAddresses.map(() => ["legacy"]),
          "gc left every legacy route"
        )
        yield* migrateLegacy(network, ours, containersOf, {
          mode: "adopt",
          force: false,
          dryRun: false
        }).pipe(Effect.provide(services))
        yield* collectGarbage(network, { graceMillis: 0 }).pipe(Effect.provide(services))
        assert.deepStrictEqual(
          (yield* state)["100.64.0.5"],
          ["ours"],
          "an adopted address has a record: gc keeps it"
        )
        yield* detach(network, { containerId: "c1", ifname: "eth0" }).pipe(Effect.provide(services))
        const after = yield* state
        assert.deepStrictEqual(after["100.64.0.5"], [])
        assert.deepStrictEqual(after["fd00:64::5"], [])
        assert.deepStrictEqual(after["100.64.0.6"], ["ours"], "c2 keeps its address")
      })
  )

  it.effect("--remove deletes the unknown container's legacy route only; --force the rest", () =>
    Effect.gen(function* () {
      const { services, state } = yield* node
      const removed = yield* migrateLegacy(network, ours, containersOf, {
        mode: "remove",
        force: false,
        dryRun: false
      }).pipe(Effect.provide(services))
      assert.deepStrictEqual(
        removed.steps.filter((s) => s.done).map((s) => formatIp(s.address)),
        ["100.64.0.7"]
      )
      assert.deepStrictEqual(yield* state, {
        "100.64.0.5": ["legacy"],
        "fd00:64::5": ["legacy"],
        "100.64.0.6": ["legacy"],
        "100.64.0.7": []
      })
      yield* migrateLegacy(network, ours, containersOf, { mode: "remove", force: true, dryRun: false }).pipe(
        Effect.provide(services)
      )
      assert.deepStrictEqual(
        Object.values(yield* state),
        legacyAddresses.map(() => [])
      )
    })
  )

  // The adoption makes 4 changes per address (record intent, our route, record confirmed, legacy
  // route deleted). Kill the run after each change of the first address; at every point the
  // address must still be held (legacy route or ours), also after a gc with no grace; a second
  // run then completes the migration.
  for (const killAfter of [1, 2, 3, 4]) {
    it.effect(
      `a crash after change ${killAfter} leaves every address held; gc keeps it held; a rerun finishes`,
      () =>
        Effect.gen(function* () {
          const { table, store, services, state } = yield* node
          let changes = 0
          const crashing = <A, E>(effect: Effect.Effect<A, E>) =>
            effect.pipe(
              Effect.tap(() => {
                changes++
                return changes === killAfter ? Effect.die("killed") : Effect.void
              })
            )
          const faulty = services.pipe(
            Context.add(Attachments, { ...store, put: (r) => crashing(store.put(r)) }),
            Context.add(LegacyRoutes, {
              adopt: (h, d) => crashing(table.legacy.adopt(h, d)),
              remove: (h) => crashing(table.legacy.remove(h))
            })
          )
          const crashed = yield* Effect.exit(
            migrateLegacy(network, ours, containersOf, { mode: "adopt", force: false, dryRun: false }).pipe(
              Effect.provide(faulty)
            )
          )
          assert.isTrue(Exit.isFailure(crashed), "the run died")
          const held = (snapshot: Record<string, ReadonlyArray<string>>) =>
            assert.isTrue(
              Object.values(snapshot).every((kinds) => kinds.includes("ours") || kinds.includes("legacy")),
              JSON.stringify(snapshot)
            )
          held(yield* state)
          yield* collectGarbage(network, { graceMillis: 0 }).pipe(Effect.provide(services))
          held(yield* state)
          const rerun = yield* migrateLegacy(network, ours, containersOf, {
            mode: "adopt",
            force: false,
            dryRun: false
          }).pipe(Effect.provide(services))
          assert.deepStrictEqual(
            rerun.steps.filter((s) => s.error !== undefined),
            []
          )
          assert.deepStrictEqual(yield* state, {
            "100.64.0.5": ["ours"],
            "fd00:64::5": ["ours"],
            "100.64.0.6": ["ours"],
            "100.64.0.7": ["legacy"]
          })
          const c1 = yield* store.get({ network: "pods", containerId: "c1", ifname: "eth0" })
          assert.deepStrictEqual(c1?.addresses.map(formatIp), ["100.64.0.5", "fd00:64::5"])
        })
    )
  }

  it.effect(
    "negative control: deleting the legacy route before inserting ours leaves the address unheld",
    () =>
      Effect.gen(function* () {
        const { table, state } = yield* node
        // the wrong order, crashed between its two steps
        yield* table.legacy.remove(at("100.64.0.5"))
        assert.deepStrictEqual((yield* state)["100.64.0.5"], [])
      })
  )
})
