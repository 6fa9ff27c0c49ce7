// Tests of the discrete-event clock: time order, equal-time order, cancellation, deadlock, replay.
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import { VirtualTime } from "../../../src/adapters/fabric/VirtualTime.ts"

const successOf = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
  return exit.value
}

describe("VirtualTime", () => {
  it("fibers wake in time order and read the simulated time; equal times wake in the order they slept", () => {
    const time = new VirtualTime()
    const woke: Array<string> = []
    const sleeper = (name: string, ms: number) =>
      Effect.sleep(Duration.millis(ms)).pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.map((now) => woke.push(`${name}@${now}`))
      )
    const program = Effect.forEach(
      [
        ["a", 50],
        ["b", 10],
        ["c", 40],
        ["d", 10],
        ["e", 0]
      ] as const,
      ([name, ms]) => sleeper(name, ms),
      { concurrency: "unbounded", discard: true }
    )
    successOf(time.run(program))
    assert.deepStrictEqual(woke, ["e@0", "b@10", "d@10", "c@40", "a@50"])
    assert.strictEqual(time.now, 50)
  })

  it("an interrupted sleep does not hold time back (its timer is cancelled)", () => {
    const time = new VirtualTime()
    const program = Effect.gen(function* () {
      const long = yield* Effect.forkChild(Effect.sleep(Duration.hours(1)))
      yield* Effect.sleep(Duration.millis(5))
      yield* Fiber.interrupt(long)
      return yield* Clock.currentTimeMillis
    })
    assert.strictEqual(successOf(time.run(program)), 5)
    const timedOut = new VirtualTime().run(
      Effect.sleep(Duration.seconds(10)).pipe(Effect.timeoutOption("1 second"))
    )
    assert.isTrue(Exit.isSuccess(timedOut))
  })

  it("a program that waits for something that never happens is reported, not hung", () => {
    const time = new VirtualTime()
    assert.throws(() => time.run(Effect.never), /every fiber is blocked/)
  })

  it("a run with seeded Random replays exactly, including 10 000 concurrent fibers", () => {
    const run = () => {
      const order: Array<number> = []
      const program = Effect.forEach(
        Array.from({ length: 10_000 }, (_, i) => i),
        (i) =>
          Effect.gen(function* () {
            for (let k = 0; k < 3; k++)
              yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(1, 100)))
            order.push(i)
          }),
        { concurrency: "unbounded", discard: true }
      ).pipe(Random.withSeed(99))
      const time = new VirtualTime()
      successOf(time.run(program))
      return { order, end: time.now }
    }
    const first = run()
    assert.strictEqual(first.order.length, 10_000)
    assert.deepStrictEqual(run(), first)
  })
})
