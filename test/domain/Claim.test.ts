// The claim protocol on one node's memory table, on TestClock: win, lose, tie-break, vanish, exhaust.
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import { type AttemptOutcome, claimAddress } from "../../src/domain/Claim.ts"
import { type ClaimPolicy, defaultClaimPolicy } from "../../src/domain/ClaimPolicy.ts"
import { formatIp, type Ip, parseIp } from "../../src/domain/Ip.ts"
import { InvalidPool, isAllocatable, makePool, type Pool } from "../../src/domain/Pool.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"

const addr = (s: string): Ip => {
  const p = parseIp(s)
  if (p._tag === "None") throw new Error(s)
  return p.value
}
const pool = (subnet: string, extra: { rangeStart?: string; rangeEnd?: string } = {}): Pool => {
  const p = makePool("r", [{ subnet, ...extra }])
  if (p instanceof InvalidPool) throw new Error(p.message)
  return p
}
const policy: ClaimPolicy = {
  ...defaultClaimPolicy,
  propagationTimeout: Duration.millis(100),
  maxAttempts: 4
}
const node = MemoryRouteTable.layerWithControl({ nodeAddress: addr("198.18.0.1") })
const Control = MemoryRouteTable.MemoryRouteTableControl

/** The typed failure of an exit, for asserting on its fields. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/** Run `effect` forked, advance the clock by `ms`, and return its exit. */
const runFor = <A, E, R>(effect: Effect.Effect<A, E, R>, ms: number) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(Duration.millis(ms))
    return yield* Fiber.await(fiber)
  })

const ours = Effect.flatMap(Control, (c) => c.snapshot).pipe(
  Effect.map((routes) => routes.filter((r) => r.origin === "ours").map((r) => formatIp(r.host)))
)

describe("claimAddress", () => {
  it.effect("an empty table: a random allocatable address, ours alone after W", () =>
    Effect.gen(function* () {
      const p = pool("100.64.0.0/24")
      const exit = yield* runFor(claimAddress(p, undefined, policy), 100)
      assert.isTrue(Exit.isSuccess(exit))
      const address = (exit as Exit.Success<Ip>).value
      assert.isTrue(isAllocatable(p, address))
      assert.deepStrictEqual(yield* ours, [formatIp(address)])
    }).pipe(Effect.provide(node))
  )

  it.effect("it does not return before W has passed", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(claimAddress(pool("100.64.0.0/24"), undefined, policy))
      yield* TestClock.adjust(Duration.millis(99))
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(Duration.millis(1))
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
    }).pipe(Effect.provide(node))
  )

  it.effect("a requested address is returned exactly", () =>
    Effect.gen(function* () {
      const exit = yield* runFor(claimAddress(pool("100.64.0.0/24"), addr("100.64.0.77"), policy), 100)
      assert.deepStrictEqual(Exit.map(exit, formatIp), Exit.succeed("100.64.0.77"))
    }).pipe(Effect.provide(node))
  )

  it.effect(
    "a requested address held by another node fails with AddressTaken naming the holder, no route left",
    () =>
      Effect.gen(function* () {
        const control = yield* Control
        yield* control.addOther({ host: addr("100.64.0.77"), nextHop: addr("198.18.0.9") })
        const exit = yield* runFor(claimAddress(pool("100.64.0.0/24"), addr("100.64.0.77"), policy), 1000)
        assert.isTrue(Exit.isFailure(exit))
        const error = failureOf(exit)
        assert.strictEqual(error?._tag, "AddressTaken")
        assert.match(error?._tag === "AddressTaken" ? error.reason : "", /198\.18\.0\.9/)
        assert.deepStrictEqual(yield* ours, [])
      }).pipe(Effect.provide(node))
  )

  it.effect("a requested address outside the pool fails with AddressOutsidePool", () =>
    Effect.gen(function* () {
      const exit = yield* runFor(
        claimAddress(pool("100.64.0.0/24", { rangeStart: "100.64.0.10" }), addr("100.64.0.5"), policy),
        0
      )
      assert.strictEqual(failureOf(exit)?._tag, "AddressOutsidePool")
    }).pipe(Effect.provide(node))
  )

  it.effect("a competitor appearing during W makes us release and take another address", () =>
    Effect.gen(function* () {
      const control = yield* Control
      const outcomes: Array<AttemptOutcome> = []
      const p = pool("100.64.0.0/29")
      const fiber = yield* Effect.forkChild(
        claimAddress(p, undefined, policy, { observe: (o) => Effect.sync(() => outcomes.push(o)) })
      )
      yield* TestClock.adjust(Duration.millis(50))
      const first = (yield* ours)[0]!
      // a peer (higher address than ours, so we would win a tie-break unless it stays) claims the same one
      yield* control.addOther({ host: addr(first), nextHop: addr("198.18.0.0") })
      yield* TestClock.adjust(Duration.seconds(5))
      const address = formatIp(yield* Fiber.join(fiber))
      assert.notStrictEqual(address, first)
      assert.strictEqual(outcomes[0]?._tag, "Lost")
      assert.strictEqual(outcomes.at(-1)?._tag, "Won")
      assert.deepStrictEqual(yield* ours, [address])
    }).pipe(Effect.provide(node))
  )

  it.effect("tie-break: we win when our source is lower and the competitor withdraws within another W", () =>
    Effect.gen(function* () {
      const control = yield* Control
      const outcomes: Array<string> = []
      const fiber = yield* Effect.forkChild(
        claimAddress(pool("100.64.0.0/24"), addr("100.64.0.5"), policy, {
          observe: (o) => Effect.sync(() => outcomes.push(o._tag))
        })
      )
      yield* TestClock.adjust(Duration.millis(10))
      yield* control.addOther({ host: addr("100.64.0.5"), nextHop: addr("198.18.0.2") })
      yield* TestClock.adjust(Duration.millis(140)) // past W: conflict seen, we keep and wait
      assert.isUndefined(fiber.pollUnsafe())
      yield* control.remove(addr("100.64.0.5"), (r) => r.origin === "other") // the loser withdraws
      yield* TestClock.adjust(Duration.millis(100))
      assert.strictEqual(formatIp(yield* Fiber.join(fiber)), "100.64.0.5")
      assert.deepStrictEqual(outcomes, ["Won"])
    }).pipe(Effect.provide(node))
  )

  it.effect("tie-break: a competitor that never withdraws makes even the lower address release", () =>
    Effect.gen(function* () {
      const control = yield* Control
      const outcomes: Array<string> = []
      const fiber = yield* Effect.forkChild(
        claimAddress(pool("100.64.0.0/24"), addr("100.64.0.5"), policy, {
          observe: (o) => Effect.sync(() => outcomes.push(o._tag))
        })
      )
      yield* TestClock.adjust(Duration.millis(10))
      yield* control.addOther({ host: addr("100.64.0.5"), nextHop: addr("198.18.0.2") })
      yield* TestClock.adjust(Duration.seconds(5))
      const exit = yield* Fiber.await(fiber)
      assert.strictEqual(failureOf(exit)?._tag, "AddressTaken")
      assert.deepStrictEqual(outcomes, ["TieBreakLost"])
      assert.deepStrictEqual(yield* ours, [])
    }).pipe(Effect.provide(node))
  )

  it.effect("tie-break: a competitor with a lower address wins; we release at once", () =>
    Effect.gen(function* () {
      const control = yield* Control
      const outcomes: Array<string> = []
      const fiber = yield* Effect.forkChild(
        claimAddress(pool("100.64.0.0/24"), addr("100.64.0.5"), policy, {
          observe: (o) => Effect.sync(() => outcomes.push(o._tag))
        })
      )
      yield* TestClock.adjust(Duration.millis(10))
      yield* control.addOther({ host: addr("100.64.0.5"), nextHop: addr("198.18.0.0") })
      yield* TestClock.adjust(Duration.millis(90))
      assert.deepStrictEqual(yield* ours, [], "released right at verify, without the extra wait")
      yield* TestClock.adjust(Duration.seconds(5))
      assert.isTrue(Exit.isFailure(yield* Fiber.await(fiber)))
      assert.deepStrictEqual(outcomes, ["Lost"])
    }).pipe(Effect.provide(node))
  )

  it.effect("a route removed under us during W means a new attempt", () =>
    Effect.gen(function* () {
      const control = yield* Control
      const outcomes: Array<string> = []
      const fiber = yield* Effect.forkChild(
        claimAddress(pool("100.64.0.0/24"), undefined, policy, {
          observe: (o) => Effect.sync(() => outcomes.push(o._tag))
        })
      )
      yield* TestClock.adjust(Duration.millis(50))
      yield* control.remove(addr((yield* ours)[0]!))
      yield* TestClock.adjust(Duration.seconds(5))
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
      assert.deepStrictEqual(outcomes, ["Vanished", "Won"])
    }).pipe(Effect.provide(node))
  )

  it.effect("every attempt contested: AttemptsExhausted lists what was tried, nothing of ours is left", () =>
    Effect.gen(function* () {
      const control = yield* Control
      // a hostile peer: contests every route of ours, withdraws once we let go
      const hostile = Effect.gen(function* () {
        for (;;) {
          const routes = yield* control.snapshot
          for (const r of routes) {
            const here = routes.filter((x) => formatIp(x.host) === formatIp(r.host))
            if (r.origin === "ours" && here.length === 1) {
              yield* control.addOther({ host: r.host, nextHop: addr("198.18.0.0") })
            }
            if (r.origin === "other" && here.length === 1) yield* control.remove(r.host)
          }
          yield* Effect.sleep(Duration.millis(10))
        }
      })
      yield* Effect.forkChild(hostile)
      const exit = yield* runFor(claimAddress(pool("100.64.0.0/28"), undefined, policy), 60_000)
      assert.isTrue(Exit.isFailure(exit))
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "AttemptsExhausted")
      assert.strictEqual(error?._tag === "AttemptsExhausted" ? error.tried.length : 0, policy.maxAttempts)
      assert.deepStrictEqual(yield* ours, [])
    }).pipe(Effect.provide(node))
  )

  it.effect("exhaustion: a full pool fails with PoolExhausted after exactly one full read", () =>
    Effect.gen(function* () {
      const control = yield* Control
      const table = yield* RouteTable
      let reads = 0
      const counting = RouteTable.of({
        ...table,
        hostRoutesIn: (prefix) =>
          Effect.suspend(() => {
            reads += 1
            return table.hostRoutesIn(prefix)
          })
      })
      const p = pool("100.64.0.0/28")
      for (let i = 1; i <= 14; i++)
        yield* control.addOther({ host: addr(`100.64.0.${i}`), nextHop: addr("198.18.0.7") })
      const exit = yield* runFor(
        claimAddress(p, undefined, policy).pipe(Effect.provideService(RouteTable, counting)),
        0
      )
      assert.strictEqual(failureOf(exit)?._tag, "PoolExhausted")
      assert.strictEqual(reads, 1)
    }).pipe(Effect.provide(node))
  )

  it.effect("the last free address is found even when random probes miss it", () =>
    Effect.gen(function* () {
      const control = yield* Control
      const p = pool("100.64.0.0/22")
      for (let i = 1; i <= 1022; i++) {
        if (i === 600) continue
        yield* control.addOther({ host: addr(`100.64.${i >> 8}.${i & 255}`), nextHop: addr("198.18.0.7") })
      }
      const exit = yield* runFor(claimAddress(p, undefined, { ...policy, probes: 4 }), 100)
      assert.deepStrictEqual(Exit.map(exit, formatIp), Exit.succeed("100.64.2.88"))
    }).pipe(Effect.provide(node))
  )
})
