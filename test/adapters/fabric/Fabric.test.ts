// Tests of the simulated fabric: per-message delays, versioned releases, outages, one-sided visibility, the RouteTable contract.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Exit from "effect/Exit"
import * as Duration from "effect/Duration"
import { TestClock } from "effect/testing"
import {
  type FabricConfig,
  makeFabric,
  nodeAddress,
  nodeIndexOf,
  nodeLayer
} from "../../../src/adapters/fabric/Fabric.ts"
import { VirtualTime } from "../../../src/adapters/fabric/VirtualTime.ts"
import { claimAddress } from "../../../src/domain/Claim.ts"
import { defaultClaimPolicy } from "../../../src/domain/ClaimPolicy.ts"
import { formatIp, type Ip, parseCidr, parseIp } from "../../../src/domain/Ip.ts"
import { makePool, type Pool } from "../../../src/domain/Pool.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const host = at("100.64.0.5")
const fixed = (ms: number): FabricConfig["delay"] => ({ _tag: "Fixed", ms })

/** Run a fabric operation at simulated time `t` (virtual clock starting at 0). */
const runAt = <A, E>(t: number, effect: Effect.Effect<A, E>): A => {
  const exit = new VirtualTime().run(Effect.andThen(Effect.sleep(Duration.millis(t)), effect))
  if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
  return exit.value
}

const visibleTo = (fabric: ReturnType<typeof makeFabric>, node: number, t: number, address: Ip = host) =>
  fabric.viewOf(node, t).filter((r) => r.host.value === address.value)

describe("Fabric", () => {
  it.effect(
    "a claim reaches another node after the delay, as a learned route via the claimer's address",
    () =>
      Effect.gen(function* () {
        const fabric = makeFabric({ nodes: 3, delay: fixed(100), seed: 1 })
        const [n0, n1] = [fabric.routeTableOf(0), fabric.routeTableOf(1)]
        yield* n0.claim(host)
        assert.deepStrictEqual(yield* n0.routesTo(host), [
          { host, origin: "ours", protocol: 192, table: 254, metric: 4096 }
        ])
        yield* TestClock.setTime(99)
        assert.deepStrictEqual(yield* n1.routesTo(host), [])
        assert.isFalse(yield* n1.isTaken(host))
        yield* TestClock.setTime(100)
        const [learned] = yield* n1.routesTo(host)
        assert.deepStrictEqual(learned, {
          host,
          origin: "other",
          protocol: 12,
          table: 254,
          metric: 32,
          nextHop: at("198.18.0.1")
        })
        assert.isUndefined(learned?.device)
        assert.isTrue(yield* n1.isTaken(host))
        assert.strictEqual(formatIp((yield* n1.sourceTowards(at("198.18.0.1")))!), "198.18.0.2")
        assert.strictEqual(formatIp((yield* n1.sourceTowards(at("fd00::1")))!), "fd00:198:18::2")
      })
  )

  it.effect("claims are atomic per node: a second claim of our own route fails with HostTaken", () =>
    Effect.gen(function* () {
      const fabric = makeFabric({ nodes: 2, delay: fixed(0), seed: 1 })
      const [n0, n1] = [fabric.routeTableOf(0), fabric.routeTableOf(1)]
      yield* n0.claim(host)
      const again = yield* Effect.result(n0.claim(host))
      assert.isTrue(Result.isFailure(again) && again.failure._tag === "HostTaken")
      // another node's route does not block ours (different metric and protocol): both exist
      yield* n1.claim(host)
      assert.deepStrictEqual(
        (yield* n0.routesTo(host)).map((r) => [r.origin, r.nextHop && formatIp(r.nextHop)]),
        [
          ["ours", undefined],
          ["other", "198.18.0.2"]
        ]
      )
      yield* n0.release(host)
      yield* n0.release(host) // idempotent
      yield* n0.claim(host)
      assert.strictEqual(fabric.announcements(), 4)
    })
  )

  it("a release is never undone by the older claim arriving late (messages are versioned)", () => {
    const nodes = 60
    const fabric = makeFabric({ nodes, delay: { _tag: "Uniform", min: 0, max: 1000 }, seed: 42 })
    const table = fabric.routeTableOf(0)
    runAt(0, table.claim(host))
    runAt(10, table.release(host))
    let neverSaw = 0
    let sawThenLost = 0
    for (let observer = 1; observer < nodes; observer++) {
      const timeline = Array.from({ length: 1102 }, (_, t) => visibleTo(fabric, observer, t).length)
      const firstSeen = timeline.indexOf(1)
      if (firstSeen === -1) {
        neverSaw++
        continue
      }
      const lostAt = timeline.indexOf(0, firstSeen)
      assert.isAbove(lostAt, firstSeen)
      // once gone, it never comes back
      assert.isTrue(
        timeline.slice(lostAt).every((n) => n === 0),
        `observer ${observer} saw it come back`
      )
      sawThenLost++
    }
    assert.isAbove(neverSaw, 0, "some release should overtake its claim")
    assert.isAbove(sawThenLost, 0)
    assert.strictEqual(fabric.settledAt(), 1010)
  })

  it("one-sided visibility: the observer never sees the hidden origin, others do", () => {
    const fabric = makeFabric({ nodes: 3, delay: fixed(5), seed: 1, hidden: [{ observer: 1, origin: 0 }] })
    runAt(0, fabric.routeTableOf(0).claim(host))
    runAt(0, fabric.routeTableOf(1).claim(at("100.64.0.6")))
    assert.strictEqual(visibleTo(fabric, 1, 10_000).length, 0)
    assert.strictEqual(visibleTo(fabric, 2, 10_000).length, 1)
    // the other direction still works
    assert.strictEqual(visibleTo(fabric, 0, 10_000, at("100.64.0.6")).length, 1)
  })

  it.effect("an outage holds a node's announcements until it ends", () =>
    Effect.gen(function* () {
      const fabric = makeFabric({
        nodes: 2,
        delay: fixed(10),
        seed: 1,
        outages: [{ node: 0, from: 0, to: 500 }]
      })
      yield* fabric.routeTableOf(0).claim(host)
      assert.strictEqual(visibleTo(fabric, 1, 499).length, 0)
      assert.strictEqual(visibleTo(fabric, 1, 500).length, 1)
      yield* TestClock.setTime(600)
      yield* fabric.routeTableOf(0).release(host)
      assert.strictEqual(visibleTo(fabric, 1, 609).length, 1)
      assert.strictEqual(visibleTo(fabric, 1, 610).length, 0)
      assert.strictEqual(fabric.settledAt(), 610)
    })
  )

  it.effect("hostRoutesIn returns every visible host route inside the prefix, sorted", () =>
    Effect.gen(function* () {
      const fabric = makeFabric({ nodes: 2, delay: fixed(0), seed: 1 })
      for (const text of ["100.64.1.9", "100.64.0.7", "100.64.0.3"])
        yield* fabric.routeTableOf(1).claim(at(text))
      const routes = yield* fabric.routeTableOf(0).hostRoutesIn(Option.getOrThrow(parseCidr("100.64.0.0/24")))
      assert.deepStrictEqual(
        routes.map((r) => formatIp(r.host)),
        ["100.64.0.3", "100.64.0.7"]
      )
      assert.deepStrictEqual(
        fabric.ownRoutes().map((r) => r.node),
        [1, 1, 1]
      )
    })
  )

  it("delays depend only on the seed: same seed, same views; another seed, other views", () => {
    const views = (seed: number) => {
      const fabric = makeFabric({ nodes: 20, delay: { _tag: "LongTail", median: 20, cap: 400 }, seed })
      runAt(0, fabric.routeTableOf(0).claim(host))
      return Array.from({ length: 20 }, (_, node) =>
        Array.from({ length: 40 }, (_, t) => visibleTo(fabric, node, t * 10).length).join("")
      )
    }
    assert.deepStrictEqual(views(7), views(7))
    assert.notDeepEqual(views(7), views(8))
  })

  it("node addresses: 198.18.0.0 + index + 1, and back", () => {
    assert.strictEqual(formatIp(nodeAddress(0)), "198.18.0.1")
    assert.strictEqual(formatIp(nodeAddress(999)), "198.18.3.232")
    assert.strictEqual(nodeIndexOf(nodeAddress(999)), 999)
    assert.strictEqual(nodeIndexOf(nodeAddress(12, 6)), 12)
    assert.isUndefined(nodeIndexOf(at("10.0.0.1")))
  })

  it("the unchanged domain claims through a node's layer; the claim reaches the others after W", () => {
    const fabric = makeFabric({ nodes: 3, delay: fixed(40), seed: 1 })
    const pool = makePool("pool", [{ subnet: "100.64.0.0/29" }]) as Pool
    const program = claimAddress(pool, undefined, defaultClaimPolicy).pipe(
      Effect.provide(nodeLayer(fabric, 2))
    )
    const won = runAt(0, program)
    assert.isTrue(won.value >= pool.allocatable[0]!.from && won.value <= pool.allocatable[0]!.to)
    const seen = fabric.viewOf(0, 250).filter((r) => r.host.value === won.value)
    assert.deepStrictEqual(
      seen.map((r) => r.nextHop && formatIp(r.nextHop)),
      ["198.18.0.3"]
    )
  })
})
