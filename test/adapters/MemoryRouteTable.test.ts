// Tests of the in-memory routing table: the RouteTable port's contract plus its control.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import { MemoryRouteTableControl } from "../../src/adapters/MemoryRouteTable.ts"
import { formatIp, type Ip, parseCidr, parseIp } from "../../src/domain/Ip.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const prefix = (text: string) => Option.getOrThrow(parseCidr(text))
const peer = at("198.18.0.2")

describe("MemoryRouteTable", () => {
  it.effect("claim - inserts our route with the configured protocol, table and metric", () =>
    Effect.gen(function* () {
      const built = yield* MemoryRouteTable.make()
      yield* built.table.claim(at("100.64.0.5"))
      const routes = yield* built.table.routesTo(at("100.64.0.5"))
      assert.deepStrictEqual(routes, [
        { host: at("100.64.0.5"), origin: "ours", protocol: 192, table: 254, metric: 4096 }
      ])
      assert.isTrue(yield* built.table.isTaken(at("100.64.0.5")))
      assert.isFalse(yield* built.table.isTaken(at("100.64.0.6")))

      const custom = yield* MemoryRouteTable.make({ protocol: 200, table: 100, metric: 7 })
      yield* custom.table.claim(at("fd00::5"))
      assert.deepStrictEqual(yield* custom.table.routesTo(at("fd00::5")), [
        { host: at("fd00::5"), origin: "ours", protocol: 200, table: 100, metric: 7 }
      ])
    })
  )

  it.effect("claim - a duplicate fails with HostTaken naming the host", () =>
    Effect.gen(function* () {
      const { table } = yield* MemoryRouteTable.make()
      yield* table.claim(at("fd00::a"))
      const second = yield* Effect.flip(table.claim(at("fd00::a")))
      assert.strictEqual(second._tag, "HostTaken")
      assert.strictEqual(second._tag === "HostTaken" ? second.host : "", "fd00::a")
      assert.strictEqual((yield* table.routesTo(at("fd00::a"))).length, 1)
    })
  )

  it.effect("claim - concurrent claims of one host: exactly one wins", () =>
    Effect.gen(function* () {
      const { table } = yield* MemoryRouteTable.make()
      const outcomes = yield* Effect.all(
        Array.from({ length: 64 }, () => Effect.result(table.claim(at("100.64.1.1")))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(outcomes.filter(Result.isSuccess).length, 1)
      assert.strictEqual(outcomes.filter(Result.isFailure).length, 63)
      assert.strictEqual((yield* table.routesTo(at("100.64.1.1"))).length, 1)
    })
  )

  it.effect(
    "claim - coexists with a learned route of another metric, refused at the same table and metric",
    () =>
      Effect.gen(function* () {
        const built = yield* MemoryRouteTable.make()
        yield* built.addOther({ host: at("100.64.0.7"), nextHop: peer })
        assert.isTrue(yield* built.table.isTaken(at("100.64.0.7")))
        yield* built.table.claim(at("100.64.0.7"))
        const routes = yield* built.table.routesTo(at("100.64.0.7"))
        assert.deepStrictEqual(routes.map((r) => r.origin).sort(), ["other", "ours"])
        const learned = routes.find((r) => r.origin === "other")
        assert.deepStrictEqual(learned, {
          host: at("100.64.0.7"),
          origin: "other",
          protocol: 12,
          table: 254,
          metric: 32,
          nextHop: peer
        })

        yield* built.addOther({ host: at("100.64.0.8"), protocol: 4, metric: 4096 })
        const refused = yield* Effect.flip(built.table.claim(at("100.64.0.8")))
        assert.strictEqual(refused._tag, "HostTaken")
      })
  )

  it.effect("release - removes only our route and is idempotent", () =>
    Effect.gen(function* () {
      const built = yield* MemoryRouteTable.make()
      yield* built.addOther({ host: at("100.64.0.9"), nextHop: peer })
      yield* built.table.claim(at("100.64.0.9"))
      yield* built.table.release(at("100.64.0.9"))
      const left = yield* built.table.routesTo(at("100.64.0.9"))
      assert.deepStrictEqual(
        left.map((r) => r.origin),
        ["other"]
      )
      yield* built.table.release(at("100.64.0.9"))
      yield* built.table.release(at("100.64.0.10"))
      assert.strictEqual((yield* built.table.routesTo(at("100.64.0.9"))).length, 1)
      yield* built.table.claim(at("100.64.0.11"))
      yield* built.table.release(at("100.64.0.11"))
      assert.isFalse(yield* built.table.isTaken(at("100.64.0.11")))
      // a claim works again after the release
      yield* built.table.claim(at("100.64.0.11"))
    })
  )

  it.effect(
    "addOther - our protocol in our table counts as ours (a leftover claim); identical adds are one route",
    () =>
      Effect.gen(function* () {
        const built = yield* MemoryRouteTable.make()
        yield* built.addOther({ host: at("100.64.0.12"), protocol: 192, metric: 4096 })
        assert.deepStrictEqual(
          (yield* built.table.routesTo(at("100.64.0.12"))).map((r) => r.origin),
          ["ours"]
        )
        yield* built.table.release(at("100.64.0.12"))
        assert.isFalse(yield* built.table.isTaken(at("100.64.0.12")))

        yield* built.addOther({ host: at("100.64.0.13"), protocol: 192, table: 100 })
        assert.strictEqual((yield* built.table.routesTo(at("100.64.0.13")))[0]?.origin, "other")

        yield* built.addOther({ host: at("100.64.0.14"), nextHop: peer })
        yield* built.addOther({ host: at("100.64.0.14"), nextHop: peer })
        yield* built.addOther({ host: at("100.64.0.14"), nextHop: at("198.18.0.3") })
        assert.strictEqual((yield* built.table.routesTo(at("100.64.0.14"))).length, 2)
      })
  )

  it.effect("remove - removes the routes matching the predicate and counts them", () =>
    Effect.gen(function* () {
      const built = yield* MemoryRouteTable.make()
      yield* built.addOther({ host: at("100.64.0.20"), nextHop: peer })
      yield* built.addOther({ host: at("100.64.0.20"), nextHop: at("198.18.0.3") })
      yield* built.table.claim(at("100.64.0.20"))
      const fromPeer = yield* built.remove(
        at("100.64.0.20"),
        (r) => r.nextHop !== undefined && formatIp(r.nextHop) === "198.18.0.2"
      )
      assert.strictEqual(fromPeer, 1)
      assert.strictEqual((yield* built.table.routesTo(at("100.64.0.20"))).length, 2)
      assert.strictEqual(yield* built.remove(at("100.64.0.20")), 2)
      assert.strictEqual(yield* built.remove(at("100.64.0.20")), 0)
      assert.isFalse(yield* built.table.isTaken(at("100.64.0.20")))
    })
  )

  it.effect("hostRoutesIn - every route inside the prefix, ours and others, sorted; nothing outside", () =>
    Effect.gen(function* () {
      const built = yield* MemoryRouteTable.make()
      yield* built.table.claim(at("100.64.0.30"))
      yield* built.addOther({ host: at("100.64.0.3"), nextHop: peer })
      yield* built.table.claim(at("100.64.0.3"))
      yield* built.table.claim(at("100.64.1.1"))
      yield* built.table.claim(at("fd00::1"))
      const inside = yield* built.table.hostRoutesIn(prefix("100.64.0.0/24"))
      assert.deepStrictEqual(
        inside.map((r) => `${formatIp(r.host)} ${r.origin}`),
        ["100.64.0.3 ours", "100.64.0.3 other", "100.64.0.30 ours"]
      )
      const v6 = yield* built.table.hostRoutesIn(prefix("fd00::/8"))
      assert.deepStrictEqual(
        v6.map((r) => formatIp(r.host)),
        ["fd00::1"]
      )
      assert.strictEqual((yield* built.table.hostRoutesIn(prefix("100.65.0.0/16"))).length, 0)
      assert.strictEqual((yield* built.snapshot).length, 5)
    })
  )

  it.effect("sourceTowards - the configured node address of the peer's family", () =>
    Effect.gen(function* () {
      const one = yield* MemoryRouteTable.make({ nodeAddress: at("198.18.0.1") })
      assert.deepStrictEqual(yield* one.table.sourceTowards(peer), at("198.18.0.1"))
      assert.isUndefined(yield* one.table.sourceTowards(at("fd00::2")))
      const both = yield* MemoryRouteTable.make({ nodeAddress: [at("198.18.0.1"), at("fd00::1")] })
      assert.deepStrictEqual(yield* both.table.sourceTowards(at("fd00::2")), at("fd00::1"))
      const none = yield* MemoryRouteTable.make()
      assert.isUndefined(yield* none.table.sourceTowards(peer))
    })
  )

  it.effect("layer - a fresh table per build", () =>
    Effect.gen(function* () {
      const claimOnce = Effect.gen(function* () {
        const table = yield* RouteTable
        return yield* Effect.result(table.claim(at("100.64.0.40")))
      })
      const first = yield* claimOnce.pipe(Effect.provide(MemoryRouteTable.layer()))
      const second = yield* claimOnce.pipe(Effect.provide(MemoryRouteTable.layer()))
      assert.isTrue(Result.isSuccess(first))
      assert.isTrue(Result.isSuccess(second))
    })
  )

  it.effect("layerWithControl - the control seeds and reads the same table", () =>
    Effect.gen(function* () {
      const table = yield* RouteTable
      const control = yield* MemoryRouteTableControl
      yield* control.addOther({ host: at("100.64.0.50"), nextHop: peer })
      assert.isTrue(yield* table.isTaken(at("100.64.0.50")))
      yield* table.claim(at("100.64.0.51"))
      assert.deepStrictEqual(
        (yield* control.snapshot).map((r) => `${formatIp(r.host)} ${r.origin} ${r.protocol}`),
        ["100.64.0.50 other 12", "100.64.0.51 ours 7"]
      )
    }).pipe(Effect.provide(MemoryRouteTable.layerWithControl({ protocol: 7 })))
  )
})
