// `release --ip` in the domain: what may be freed (orphans; forced owners; never corrupt records' addresses), and that releaseOne does exactly that.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as MemoryAttachments from "../../src/adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import { type Attachment, Attachments } from "../../src/domain/Attachments.ts"
import { formatIp, type Ip, parseIp } from "../../src/domain/Ip.ts"
import { holdingsFrom } from "../../src/domain/Ownership.ts"
import { decideRelease, releaseOne, withoutAddress } from "../../src/domain/ReleaseOne.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const record = (containerId: string, addresses: ReadonlyArray<string>, boot = "boot-1"): Attachment => ({
  network: "pods",
  containerId,
  ifname: "eth0",
  addresses: addresses.map(at),
  pending: [],
  boot
})

describe("decideRelease", () => {
  const holdings = holdingsFrom(
    [record("live", ["100.64.0.10", "100.64.0.11"]), record("old", ["100.64.0.12"], "boot-0")],
    [
      {
        network: "pods",
        name: ".corrupt.bad@eth0.json.1",
        reason: "not JSON",
        addresses: [at("100.64.0.13")]
      }
    ],
    "boot-1"
  )
  const decide = (address: string, routeOfOurs: boolean, force = false) =>
    decideRelease({ address: at(address), routeOfOurs, holdings, force })._tag

  it("a route of ours that no record of this boot names is an orphan (a stale record names nothing)", () => {
    assert.strictEqual(decide("100.64.0.99", true), "ReleaseOrphan")
    assert.strictEqual(decide("100.64.0.12", true), "ReleaseOrphan")
  })

  it("a live owner refuses it; --force releases on behalf of that owner", () => {
    assert.strictEqual(decide("100.64.0.10", true), "Owned")
    const forced = decideRelease({ address: at("100.64.0.10"), routeOfOurs: true, holdings, force: true })
    assert.strictEqual(forced._tag, "ReleaseForOwner")
    assert.strictEqual(forced._tag === "ReleaseForOwner" ? forced.owner.containerId : "", "live")
  })

  it("a corrupt record's address is refused even with --force; two live owners are refused", () => {
    assert.strictEqual(decide("100.64.0.13", true, true), "Quarantined")
    const two = holdingsFrom([record("a", ["100.64.0.20"]), record("b", ["100.64.0.20"])], [], "boot-1")
    assert.strictEqual(
      decideRelease({ address: at("100.64.0.20"), routeOfOurs: true, holdings: two, force: true })._tag,
      "SeveralOwners"
    )
  })

  it("no route of ours and no record: nothing to release", () => {
    assert.strictEqual(decide("100.64.0.98", false), "NothingToRelease")
    assert.strictEqual(decide("100.64.0.98", false, true), "NothingToRelease")
  })

  it("withoutAddress drops it from addresses and pending only", () => {
    const r = { ...record("x", ["100.64.0.1", "100.64.0.2"]), pending: [at("100.64.0.2"), at("100.64.0.3")] }
    const rest = withoutAddress(r, at("100.64.0.2"))
    assert.deepStrictEqual(rest.addresses.map(formatIp), ["100.64.0.1"])
    assert.deepStrictEqual(rest.pending.map(formatIp), ["100.64.0.3"])
  })
})

describe("releaseOne", () => {
  /** A memory node: our routes to .10 (owned by "live"), .11 (owned too), .99 (orphan); a learned route to .98. */
  const setup = Effect.gen(function* () {
    const memory = yield* MemoryAttachments.makeWithControl
    const layer = Layer.mergeAll(
      MemoryRouteTable.layerWithControl({ nodeAddress: at("198.18.0.1") }),
      Layer.succeed(Attachments, memory.store)
    )
    const context = yield* Layer.build(layer)
    const run = <A, E>(
      effect: Effect.Effect<A, E, RouteTable | Attachments | MemoryRouteTable.MemoryRouteTableControl>
    ) => Effect.provide(effect, context)
    yield* run(
      Effect.gen(function* () {
        const table = yield* RouteTable
        for (const address of ["100.64.0.10", "100.64.0.11", "100.64.0.99"]) yield* table.claim(at(address))
        const control = yield* MemoryRouteTable.MemoryRouteTableControl
        yield* control.addOther({ host: at("100.64.0.98"), nextHop: at("198.18.0.2") })
        const boot = yield* memory.store.boot
        yield* memory.store.put({ ...record("live", ["100.64.0.10", "100.64.0.11"]), boot })
      })
    )
    const ourRoutes = run(
      Effect.gen(function* () {
        const control = yield* MemoryRouteTable.MemoryRouteTableControl
        return (yield* control.snapshot).filter((r) => r.origin === "ours").map((r) => formatIp(r.host))
      })
    )
    return { run, memory, ourRoutes }
  })

  it.effect("an orphan is released; a dry run changes nothing", () =>
    Effect.gen(function* () {
      const { run, ourRoutes } = yield* setup
      const dry = yield* run(releaseOne("pods", at("100.64.0.99"), { force: false, dryRun: true }))
      assert.strictEqual(dry.decision._tag, "ReleaseOrphan")
      assert.isFalse(dry.released)
      assert.include(yield* ourRoutes, "100.64.0.99")
      const done = yield* run(releaseOne("pods", at("100.64.0.99"), { force: false, dryRun: false }))
      assert.isTrue(done.released)
      assert.deepStrictEqual(yield* ourRoutes, ["100.64.0.10", "100.64.0.11"])
    })
  )

  it.effect("a live owner's address stays (negative control for --force)", () =>
    Effect.gen(function* () {
      const { run, ourRoutes } = yield* setup
      const outcome = yield* run(releaseOne("pods", at("100.64.0.10"), { force: false, dryRun: false }))
      assert.strictEqual(outcome.decision._tag, "Owned")
      assert.isFalse(outcome.released)
      assert.deepStrictEqual(yield* ourRoutes, ["100.64.0.10", "100.64.0.11", "100.64.0.99"])
    })
  )

  it.effect(
    "--force releases on behalf of the owner and drops the address from its record; the last one removes it",
    () =>
      Effect.gen(function* () {
        const { run, memory, ourRoutes } = yield* setup
        const key = { network: "pods", containerId: "live", ifname: "eth0" }
        const first = yield* run(releaseOne("pods", at("100.64.0.10"), { force: true, dryRun: false }))
        assert.isTrue(first.released)
        assert.deepStrictEqual(yield* ourRoutes, ["100.64.0.11", "100.64.0.99"])
        assert.deepStrictEqual((yield* memory.store.get(key))?.addresses.map(formatIp), ["100.64.0.11"])
        const last = yield* run(releaseOne("pods", at("100.64.0.11"), { force: true, dryRun: false }))
        assert.strictEqual(last.record, "removed")
        assert.isUndefined(yield* memory.store.get(key))
        assert.deepStrictEqual(yield* ourRoutes, ["100.64.0.99"])
      })
  )

  it.effect("a learned route (another node's claim) is never touched, even with --force", () =>
    Effect.gen(function* () {
      const { run } = yield* setup
      const outcome = yield* run(releaseOne("pods", at("100.64.0.98"), { force: true, dryRun: false }))
      assert.strictEqual(outcome.decision._tag, "NothingToRelease")
      const routes = yield* run(
        Effect.gen(function* () {
          return yield* (yield* RouteTable).routesTo(at("100.64.0.98"))
        })
      )
      assert.strictEqual(routes.length, 1)
    })
  )

  it.effect("after a reboot the old record names nothing: its route is an orphan", () =>
    Effect.gen(function* () {
      const { run, memory } = yield* setup
      yield* memory.reboot
      const outcome = yield* run(releaseOne("pods", at("100.64.0.10"), { force: false, dryRun: true }))
      assert.strictEqual(outcome.decision._tag, "ReleaseOrphan")
    })
  )
})
