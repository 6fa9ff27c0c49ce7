// Discrete-event time for simulations: a Clock whose sleeps wait in a priority queue and a scheduler that runs every fiber synchronously.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Scheduler from "effect/Scheduler"

interface Timer {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  cancelled: boolean
}

/** Binary min-heap of timers by (time, registration order): equal times wake in the order they were set. */
class TimerHeap {
  private readonly items: Array<Timer> = []

  get size(): number {
    return this.items.length
  }

  push(timer: Timer): void {
    const items = this.items
    items.push(timer)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(items[i]!, items[parent]!)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }

  pop(): Timer | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    items[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < items.length && before(items[left]!, items[smallest]!)) smallest = left
      if (right < items.length && before(items[right]!, items[smallest]!)) smallest = right
      if (smallest === i) break
      ;[items[i], items[smallest]] = [items[smallest]!, items[i]!]
      i = smallest
    }
    return top
  }
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** What a virtual-time run reports while it advances (for progress output of long runs). */
export interface VirtualTimeProgress {
  /** Simulated milliseconds since the start. */
  readonly now: number
  /** Timers that have fired so far. */
  readonly wakeups: number
}

/** Options of `runInVirtualTime`. */
export interface RunOptions {
  /** Called every `progressEvery` wake-ups. */
  readonly onProgress?: (progress: VirtualTimeProgress) => void
  readonly progressEvery?: number
}

/**
 * A simulated clock plus a synchronous scheduler. Time only moves when every fiber is blocked on a
 * sleep: the driver then jumps to the earliest pending timer. Nothing touches the event loop, so a
 * run is a pure function of the program (and of its seeded Random).
 */
export class VirtualTime {
  private current = 0
  private seq = 0
  private wakeups = 0
  private readonly timers = new TimerHeap()
  private readonly tasks: Array<() => void> = []
  private readonly urgent: Array<() => void> = []

  /** The Clock service to provide to the simulated program (time starts at 0). */
  readonly clock: Clock.Clock
  /** The Scheduler to run the simulated program's fibers on. */
  readonly scheduler: Scheduler.Scheduler

  constructor() {
    const currentTimeMillis = Effect.sync(() => this.current)
    const currentTimeNanos = Effect.sync(() => this.nanos())
    this.clock = {
      currentTimeMillisUnsafe: () => this.current,
      currentTimeMillis,
      currentTimeNanosUnsafe: () => this.nanos(),
      currentTimeNanos,
      monotonicTimeNanosUnsafe: () => this.nanos(),
      monotonicTimeNanos: currentTimeNanos,
      sleep: (duration: Duration.Duration) => this.sleep(Duration.toMillis(duration))
    }
    const base = new Scheduler.MixedScheduler("sync")
    const dispatcher: Scheduler.SchedulerDispatcher = {
      scheduleTask: (task, priority) => (priority < 0 ? this.urgent : this.tasks).push(task),
      flush: () => this.drain()
    }
    this.scheduler = {
      executionMode: "sync",
      shouldYield: (fiber) => base.shouldYield(fiber),
      makeDispatcher: () => dispatcher
    }
  }

  /** Simulated milliseconds since the start. */
  get now(): number {
    return this.current
  }

  private nanos(): bigint {
    return BigInt(Math.round(this.current * 1_000_000))
  }

  private sleep(millis: number): Effect.Effect<void> {
    if (!(millis > 0)) return Effect.yieldNow
    if (!Number.isFinite(millis)) return Effect.never
    return Effect.callback<void>((resume) => {
      const timer: Timer = {
        at: this.current + millis,
        seq: this.seq++,
        wake: () => resume(Effect.void),
        cancelled: false
      }
      this.timers.push(timer)
      return Effect.sync(() => {
        timer.cancelled = true
      })
    })
  }

  /** Run every runnable task until all fibers are blocked. */
  private drain(): void {
    let index = 0
    for (;;) {
      const urgent = this.urgent.shift()
      if (urgent !== undefined) {
        urgent()
        continue
      }
      if (index >= this.tasks.length) break
      const task = this.tasks[index]!
      index++
      task()
      // keep the array from growing without bound during a long drain
      if (index > 4096 && index * 2 > this.tasks.length) {
        this.tasks.splice(0, index)
        index = 0
      }
    }
    this.tasks.length = 0
  }

  /**
   * Run `effect` to completion in virtual time: run fibers until all block, advance to the next
   * timer, repeat. Dies with a message if every fiber is blocked and no timer is pending (deadlock).
   */
  run<A, E>(effect: Effect.Effect<A, E>, options: RunOptions = {}): Exit.Exit<A, E> {
    const every = options.progressEvery ?? 100_000
    const fiber = Effect.runFork(effect.pipe(Effect.provideService(Clock.Clock, this.clock)), {
      scheduler: this.scheduler
    })
    for (;;) {
      this.drain()
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return exit
      const timer = this.timers.pop()
      if (timer === undefined) {
        throw new Error(
          `virtual time: every fiber is blocked and no timer is pending (at ${this.current} ms)`
        )
      }
      if (timer.cancelled) continue
      if (timer.at > this.current) this.current = timer.at
      this.wakeups++
      if (options.onProgress && this.wakeups % every === 0) {
        options.onProgress({ now: this.current, wakeups: this.wakeups })
      }
      timer.wake()
    }
  }
}
