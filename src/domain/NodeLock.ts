// Port: the node-local lock of one network, held around every read-records / change-routes / write-records step.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import { formatIp, type Ip } from "./Ip.ts"

/** The lock could not be taken in time (another process of this node holds it too long). */
export class NodeLockTimeout extends Schema.TaggedError<NodeLockTimeout>()("NodeLockTimeout", {
  network: Schema.String,
  waitedMillis: Schema.Number
}) {}

/** Mutual exclusion between the processes of one node, by name (one address of a network, or a network). */
export interface NodeLockService {
  /**
   * Run `effect` while holding the lock named `network` (see addressLockName). Never held across
   * the propagation wait W.
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

/**
 * The lock name of one address of a network. Every step that reads records, changes the route of
 * an address or writes a record about it holds that address's lock: the invariants are per
 * address, and one lock per address lets the ADDs of a burst proceed side by side instead of
 * queueing behind one network-wide lock (a convoy when many processes share two cores).
 */
export const addressLockName = (network: string, address: Ip): string => `${network}/${formatIp(address)}`

/**
 * The lock name of one owner (container interface) of a network. ADD and DEL hold it for their
 * whole run (across W too: only the runtime and GC ever touch one owner, and the runtime never
 * runs two operations on it at once), and every step that writes or removes the owner's record on
 * someone else's behalf (GC, `release --ip`) holds it, so none acts on a record that changed since
 * it was read. Taken before any address lock, never inside one.
 */
export const ownerLockName = (
  network: string,
  owner: { readonly containerId: string; readonly ifname: string }
): string => `${network}#${owner.containerId}/${owner.ifname}`

/** Run `effect` under the node lock named `name` (a network, or `addressLockName`). */
export const withNodeLock = <A, E, R>(
  network: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | NodeLockTimeout, R> =>
  Effect.gen(function* () {
    const lock = yield* NodeLock
    return yield* lock.withLock(network, effect)
  })
