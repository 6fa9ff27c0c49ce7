// The node lock shared by every process of a node: an abstract unix socket bound while held, freed by the kernel when its holder dies.
import type * as Net from "node:net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { NodeLock, type NodeLockService, NodeLockTimeout } from "../domain/NodeLock.ts"

/** How the lock is named and how long a caller waits for it. */
export interface AbstractSocketLockOptions {
  /** Part of the lock's name: processes share a lock only when they use the same data directory. */
  readonly dataDir: string
  /** Give up after this long (NodeLockTimeout; the plugin answers code 11). Default 30 s. */
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

/**
 * node:net when a lock is first taken: CHECK, STATUS and an invalid request take none, and the
 * module (with Node's stream stack under it) costs every call that loads it ~3-4 ms of CPU.
 */
const net = (): typeof Net => process.getBuiltinModule("node:net")

/** The internals of net.Server that `listenExclusive` calls. */
interface ServerInternals {
  _pipeName?: string
  _listen2?: (address: string, port: number, addressType: number, backlog?: number, fd?: number) => void
}

/**
 * `server.listen({ path: name, exclusive: true }, onListening)` without loading node:cluster
 * (with child_process, dgram and ~12 more built-ins: ~3 ms of CPU for every ADD and DEL). Node has
 * no public way to listen that skips `listenInCluster`, which requires cluster only to ask whether
 * this process is a cluster worker; for an exclusive listen it then calls `server._listen2`
 * whatever the answer. This calls that method as listenInCluster does (Node's source keeps the
 * name "to avoid breaking code that wraps this method"); a Node without it gets plain `listen`.
 * Errors (EADDRINUSE) arrive as the server's "error" event either way.
 */
const listenExclusive = (server: Net.Server, name: string, onListening: () => void): void => {
  const internals = server as Net.Server & ServerInternals
  if (typeof internals._listen2 !== "function") {
    server.listen({ path: name, exclusive: true }, onListening)
    return
  }
  server.once("listening", onListening)
  internals._pipeName = name
  internals._listen2(name, -1, -1)
}

/** A held lock: the bound server and the waiters connected to it (told to retry when it goes). */
interface Held {
  readonly server: Net.Server
  readonly waiters: Set<Net.Socket>
}

/**
 * Take the lock: bind the name; when another process holds it, connect to it and sleep until that
 * connection closes (the holder released the lock, or died and the kernel closed it), then try
 * again. No polling: a waiting process uses no CPU, which matters when dozens of ADDs start at once.
 */
const acquire = (
  name: string,
  network: string,
  timeoutMillis: number
): Effect.Effect<Held, NodeLockTimeout> =>
  Effect.callback<Held, NodeLockTimeout>((resume) => {
    const started = Date.now()
    let finished = false
    let waiting: Net.Socket | undefined
    const timer = setTimeout(() => {
      finished = true
      waiting?.destroy()
      resume(Effect.fail(new NodeLockTimeout({ network, waitedMillis: Date.now() - started })))
    }, timeoutMillis)
    const attempt = () => {
      if (finished) return
      const waiters = new Set<Net.Socket>()
      const server = net().createServer((socket) => {
        socket.on("error", () => undefined)
        waiters.add(socket)
        socket.once("close", () => waiters.delete(socket))
      })
      server.once("error", (error: NodeJS.ErrnoException) => {
        // held by another process (EADDRINUSE): wait for its end; anything else: try again shortly
        if (finished) return
        if (error.code !== "EADDRINUSE") {
          setTimeout(attempt, 10)
          return
        }
        const socket = net().connect({ path: name })
        waiting = socket
        socket.on("error", () => undefined)
        socket.once("close", () => {
          waiting = undefined
          attempt()
        })
      })
      listenExclusive(server, name, () => {
        if (finished) {
          server.close()
          return
        }
        finished = true
        clearTimeout(timer)
        server.unref()
        resume(Effect.succeed({ server, waiters }))
      })
    }
    attempt()
  })

/** Give the lock up and wake every waiter. */
const release = ({ server, waiters }: Held): Effect.Effect<void> =>
  Effect.promise(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of waiters) socket.destroy()
      })
  )

/** The lock service for one data directory. */
export const make = (options: AbstractSocketLockOptions): NodeLockService => {
  const timeoutMillis = Duration.toMillis(options.timeout ?? Duration.seconds(30))
  return {
    withLock: (network, effect) =>
      Effect.acquireUseRelease(
        acquire(lockName(options.dataDir, network), network, timeoutMillis),
        () => effect,
        release
      )
  }
}

/** The node lock of the plugin and the operator commands for one data directory. */
export const layer = (options: AbstractSocketLockOptions): Layer.Layer<never> =>
  Layer.succeed(NodeLock, make(options))
