// GC's plan: which records are released, forgotten (other boot, empty) or kept, which routes are orphans; and that collectGarbage does exactly that.
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as MemoryAttachments from "../../src/adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import type { Attachment } from "../../src/domain/Attachments.ts"
import { Attachments } from "../../src/domain/Attachments.ts"
import { defaultClaimPolicy } from "../../src/domain/ClaimPolicy.ts"
import { type CollectionRequest, collectGarbage, planCollection } from "../../src/domain/Collection.ts"
import { formatIp, type Ip, parseIp } from "../../src/domain/Ip.ts"
import type { Network } from "../../src/domain/Network.ts"
import { holdingsFrom, namedBy, releaseOnBehalf } from "../../src/domain/Ownership.ts"
import { InvalidPool, makePool } from "../../src/domain/Pool.ts"
import type { Route } from "../../src/domain/Route.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const poolOf = (subnet: string, rangeStart?: string, rangeEnd?: string) => {
  const p = makePool("r", [
    { subnet, ...(rangeStart ? { rangeStart } : {}), ...(rangeEnd ? { rangeEnd } : {}) }
  ])
  if (p instanceof InvalidPool) throw new Error(p.message)
  return p
}
/** Dual stack; the v4 range is 100.64.0.10-100.64.0.200 inside 100.64.0.0/24. */
const network: Network = {
  name: "pods",
  pools: [poolOf("100.64.0.0/24", "100.64.0.10", "100.64.0.200"), poolOf("fd00:64::/120")],
  policy: { ...defaultClaimPolicy, propagationTimeout: Duration.millis(50) }
}
const now = 1_000_000
const record = (
  containerId: string,
  addresses: ReadonlyArray<string>,
  pending: ReadonlyArray<string> = [],
  extra: Partial<Pick<Attachment, "boot" | "writtenAt">> = { boot: "b2", writtenAt: now - 120_000 }
): Attachment => ({
  network: "pods",
  containerId,
  ifname: "eth0",
  addresses: addresses.map(at),
  pending: pending.map(at),
  ...extra
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
const owners = (list: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>) =>
  list.map((o) => `${o.containerId}/${o.ifname}`).sort()

const kept = record("kept", ["100.64.0.11", "fd00:64::11"])
const crashed = record("crashed", ["100.64.0.12"], ["fd00:64::12"])
const rebooted = record("rebooted", ["100.64.0.14"], [], { boot: "b1", writtenAt: now - 9_000_000 })
const empty = record("empty", [])
const routes = [
  ours("100.64.0.11"),
  ours("fd00:64::11"),
  ours("100.64.0.12"),
  ours("fd00:64::12"),
  ours("100.64.0.14"), // named only by a record of another boot: an orphan now
  ours("100.64.0.99"), // orphan
  ours("fd00:64::99"), // orphan
  other("100.64.0.98"), // learned: another node's claim
  other("100.64.0.97", 4), // another protocol
  ours("100.64.0.5") // ours by protocol, but outside the range (before rangeStart)
]
const plan = (records: ReadonlyArray<Attachment>, request: CollectionRequest, list = routes) =>
  planCollection(network, holdingsFrom(records, [], "b2"), list, request, now)

describe("planCollection", () => {
  it("plain gc: keeps complete records, releases crashed ADDs, forgets other boots and empty records", () => {
    const p = plan([kept, crashed, rebooted, empty], { graceMillis: 60_000 })
    assert.deepStrictEqual(owners(p.kept), ["kept/eth0"])
    assert.deepStrictEqual(owners(p.release), ["crashed/eth0"])
    assert.deepStrictEqual(owners(p.forget), ["empty/eth0", "rebooted/eth0"])
    assert.deepStrictEqual(p.orphans.map(formatIp), ["100.64.0.14", "100.64.0.99", "fd00:64::99"])
  })

  it("with valid owners (CNI GC, gc --keep): exactly those are kept, whatever their records say", () => {
    const p = plan([kept, crashed, rebooted], {
      valid: [{ containerId: "crashed", ifname: "eth0" }],
      graceMillis: 0
    })
    assert.deepStrictEqual(owners(p.kept), ["crashed/eth0"])
    assert.deepStrictEqual(owners(p.release), ["kept/eth0"])
    assert.deepStrictEqual(
      owners(p.forget),
      ["rebooted/eth0"],
      "a listed owner's record of another boot is stale too"
    )
  })

  it("a record of another boot is never kept, even when its owner is listed: it explains no route", () => {
    const p = plan([rebooted], { valid: [{ containerId: "rebooted", ifname: "eth0" }], graceMillis: 0 })
    assert.deepStrictEqual(owners(p.forget), ["rebooted/eth0"])
    assert.include(p.orphans.map(formatIp), "100.64.0.14")
  })

  it("records within the grace period are kept and reported as recent", () => {
    const young = { boot: "b2", writtenAt: now - 1_000 }
    const p = plan(
      [kept, record("adding", [], ["100.64.0.20"], young), record("starting", [], [], young)],
      { graceMillis: 60_000 },
      []
    )
    assert.deepStrictEqual(owners(p.recent), ["adding/eth0", "starting/eth0"])
    assert.deepStrictEqual(owners(p.kept), ["adding/eth0", "kept/eth0", "starting/eth0"])
    assert.deepStrictEqual(p.release, [])
    assert.deepStrictEqual(p.forget, [])
  })

  it("a route a released record names goes with the record, not as an orphan", () => {
    const p = plan([kept, crashed], { valid: [], graceMillis: 0 })
    assert.deepStrictEqual(owners(p.release), ["crashed/eth0", "kept/eth0"])
    assert.deepStrictEqual(p.orphans.map(formatIp), ["100.64.0.14", "100.64.0.99", "fd00:64::99"])
  })

  it("an address a quarantined (corrupt) record names is never an orphan", () => {
    const holdings = holdingsFrom(
      [kept],
      [
        {
          network: "pods",
          name: ".corrupt.x@eth0.json.1",
          reason: "not JSON",
          addresses: [at("100.64.0.99")]
        }
      ],
      "b2"
    )
    const p = planCollection(network, holdings, routes, { graceMillis: 0 }, now)
    assert.deepStrictEqual(p.orphans.map(formatIp), [
      "100.64.0.12",
      "fd00:64::12",
      "100.64.0.14",
      "fd00:64::99"
    ])
  })

  it.effect("collectGarbage does exactly what the plan says, and a dry run changes nothing", () =>
    Effect.gen(function* () {
      const table = yield* MemoryRouteTable.make()
      const memory = yield* MemoryAttachments.makeWithControl
      for (const route of routes) yield* table.addOther({ host: route.host, protocol: route.protocol })
      yield* memory.reboot // boot-2 now: records stamped boot-2 are live, boot-1 stale
      // the TestClock stands at 0: these were written a second before
      for (const r of [kept, crashed, empty])
        yield* memory.store.put({ ...r, boot: "boot-2", writtenAt: -1000 })
      yield* memory.store.put({ ...rebooted, boot: "boot-1" })
      const services = Context.make(RouteTable, table.table).pipe(Context.add(Attachments, memory.store))
      const before = yield* table.snapshot
      const dry = yield* collectGarbage(network, { graceMillis: 0, dryRun: true }).pipe(
        Effect.provide(services)
      )
      assert.deepStrictEqual(yield* table.snapshot, before)
      assert.strictEqual((yield* memory.store.list("pods")).length, 4)
      const report = yield* collectGarbage(network, { graceMillis: 0 }).pipe(Effect.provide(services))
      assert.deepStrictEqual(owners(report.releasedAttachments), owners(dry.plan.release))
      assert.deepStrictEqual(owners(report.forgotten), owners(dry.plan.forget))
      assert.deepStrictEqual(report.releasedRoutes.map(formatIp), dry.plan.orphans.map(formatIp))
      assert.deepStrictEqual(report.errors, [])
      const left = (yield* table.snapshot).map((r) => `${formatIp(r.host)} ${r.protocol}`)
      assert.deepStrictEqual(left, [
        "100.64.0.5 192",
        "100.64.0.11 192",
        "100.64.0.97 4",
        "100.64.0.98 12",
        "fd00:64::11 192"
      ])
      assert.deepStrictEqual(owners(yield* memory.store.list("pods")), ["kept/eth0"])
    })
  )
})

describe("collectGarbage beside an ADD that confirms after the plan (e2e ownership scenario 3)", () => {
  // GC reads the records without a lock and plans on them. A plain `gc --grace 0` plans to release
  // an in-flight ADD's record (pending candidate). If that ADD confirms its candidate before GC
  // takes the address's lock, the record now names a won address: GC must leave it alone.
  const run = (guarded: boolean) =>
    Effect.gen(function* () {
      const table = yield* MemoryRouteTable.make()
      const memory = yield* MemoryAttachments.makeWithControl
      const store = memory.store
      const candidate = at("100.64.0.20")
      const inFlight: Attachment = {
        ...record("adding", [], ["100.64.0.20"]),
        boot: "boot-1",
        writtenAt: -1000
      }
      yield* store.put(inFlight)
      yield* table.table.claim(candidate)
      // the ADD confirms right after GC's unlocked read of the records (its first `list`)
      let reads = 0
      const racing: Attachments["Service"] = {
        ...store,
        list: (network) =>
          Effect.tap(store.list(network), () =>
            reads++ === 0
              ? store.put({ ...inFlight, addresses: [candidate], pending: [], writtenAt: -500 })
              : Effect.void
          )
      }
      const services = Context.make(RouteTable, table.table).pipe(Context.add(Attachments, racing))
      const report = guarded
        ? yield* collectGarbage(network, { graceMillis: 0 }).pipe(Effect.provide(services))
        : // negative control: the same plan, released the old way (the record re-read, not compared)
          yield* Effect.gen(function* () {
            const plan = (yield* collectGarbage(network, { graceMillis: 0, dryRun: true })).plan
            for (const r of plan.release)
              yield* releaseOnBehalf("pods", r, namedBy(r)).pipe(Effect.andThen(racing.remove(r)))
            return { releasedAttachments: plan.release }
          }).pipe(Effect.provide(services))
      const routed = (yield* table.snapshot).map((r) => formatIp(r.host))
      return { report, routed, records: yield* store.list("pods") }
    })

  it.effect("the confirmed ADD keeps its route and its record; the next GC keeps it too", () =>
    Effect.gen(function* () {
      const { report, routed, records } = yield* run(true)
      assert.deepStrictEqual(owners(report.releasedAttachments), [])
      assert.deepStrictEqual(routed, ["100.64.0.20"])
      assert.deepStrictEqual(owners(records), ["adding/eth0"])
    })
  )

  it.effect("negative control: releasing on the re-read record alone loses the confirmed ADD's route", () =>
    Effect.gen(function* () {
      const { routed, records } = yield* run(false)
      assert.deepStrictEqual(routed, [])
      assert.deepStrictEqual(records, [])
    })
  )
})
