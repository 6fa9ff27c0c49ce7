// The node lock shared by every process of a node: an abstract unix socket bound while held, freed by the kernel when its holder dies.
import * as Net from "node:net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import { NodeLock, type NodeLockService, NodeLockTimeout } from "../domain/NodeLock.ts"

/** How the lock is named and how long a caller waits for it. */
export interface AbstractSocketLockOptions {
  /** Part of the lock's name: processes share a lock only when they use the same data directory. */
  readonly dataDir: string
  /** Give up after this long (NodeLockTimeout; the plugin answers code 11). Default 10 s. */
  readonly timeout?: Duration.Input
}

/** FNV-1a, 32 bits, as 8 hex digits: short, stable, and needs no crypto module at start-up. */
const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, "0")
}

/**
 * The socket's name in the abstract namespace (no file; at most 107 bytes). Abstract sockets
 * belong to the network namespace, as the routing table does, so one lock guards one table.
 */
export const lockName = (dataDir: string, network: string): string =>
  `\0routetable-ipam/${fnv1a(`${dataDir}\0${network}`)}/${network.slice(0, 64)}`

/** Bind the name: the server when we got the lock, undefined when another process holds it. */
const tryBind = (name: string): Promise<Net.Server | undefined> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") resolve(undefined)
      else reject(error)
    })
    server.listen({ path: name, exclusive: true }, () => {
      server.unref()
      resolve(server)
    })
  })

const close = (server: Net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()))

/** The lock service for one data directory. */
export const make = (options: AbstractSocketLockOptions): NodeLockService => {
  const timeoutMillis = Duration.toMillis(options.timeout ?? Duration.seconds(10))
  const acquire = (network: string): Effect.Effect<Net.Server, NodeLockTimeout> =>
    Effect.gen(function* () {
      const name = lockName(options.dataDir, network)
      let waited = 0
      let pause = 1
      for (;;) {
        const server = yield* Effect.promise(() => tryBind(name).catch(() => undefined))
        if (server !== undefined) return server
        if (waited >= timeoutMillis) return yield* new NodeLockTimeout({ network, waitedMillis: waited })
        const sleep = Math.round(pause * (0.5 + (yield* Random.next)))
        yield* Effect.sleep(Duration.millis(sleep))
        waited += sleep
        pause = Math.min(pause * 2, 25)
      }
    })
  return {
    withLock: (network, effect) =>
      Effect.acquireUseRelease(
        acquire(network),
        () => effect,
        (server) => Effect.promise(() => close(server))
      )
  }
}

/** The node lock of the plugin and the operator commands for one data directory. */
export const layer = (options: AbstractSocketLockOptions): Layer.Layer<never> =>
  Layer.succeed(NodeLock, make(options))
