// Port: the node-local lock of one network, held around every read-records / change-routes / write-records step.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"

/** The lock could not be taken in time (another process of this node holds it too long). */
export class NodeLockTimeout extends Schema.TaggedError<NodeLockTimeout>()("NodeLockTimeout", {
  network: Schema.String,
  waitedMillis: Schema.Number
}) {}

/** Mutual exclusion between every ADD, DEL, CHECK and GC of one network on this node. */
export interface NodeLockService {
  /**
   * Run `effect` while holding the lock of `network`. Never held across the propagation wait W.
   * Gotcha: not reentrant; a process that dies while holding it must release it (as an flock or
   * an abstract socket is released by the kernel).
   */
  readonly withLock: <A, E, R>(
    network: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | NodeLockTimeout, R>
}

/** A lock shared by the fibers of one process only: right for embedding and simulations of one node. */
export const makeInProcessLock = (): NodeLockService => {
  const semaphores = new Map<string, Semaphore.Semaphore>()
  return {
    withLock: (network, effect) => {
      let semaphore = semaphores.get(network)
      if (semaphore === undefined) {
        semaphore = Semaphore.makeUnsafe(1)
        semaphores.set(network, semaphore)
      }
      return semaphore.withPermits(1)(effect)
    }
  }
}

/**
 * The node lock. Defaults to an in-process lock, so an application that embeds the domain is safe
 * among its own fibers; the plugin provides a lock shared by every process of the node.
 */
export const NodeLock: Context.Reference<NodeLockService> = Context.Reference<NodeLockService>(
  "routetable-ipam/NodeLock",
  { defaultValue: makeInProcessLock }
)

/** Run `effect` under the node lock of `network`. */
export const withNodeLock = <A, E, R>(
  network: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | NodeLockTimeout, R> =>
  Effect.gen(function* () {
    const lock = yield* NodeLock
    return yield* lock.withLock(network, effect)
  })
