// Tests of the BIRD fabric health adapter: scripted unix-socket servers, then real BIRDs in a lab (root).
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as BirdFabricHealth from "../../src/adapters/BirdFabricHealth.ts"
import * as NoFabricHealth from "../../src/adapters/NoFabricHealth.ts"
import { FabricHealth, type FabricReport } from "../../src/domain/FabricHealth.ts"
import { type Lab, scoped as labScoped } from "../support/Lab.ts"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { fixtureText } from "./bird/Fixtures.ts"

/** A private directory for sockets, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "routetable-ipam-bird-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/**
 * A unix-socket server at `<dir>/bird.ctl` that plays BIRD: `onConnect` gets each client socket.
 * Resolves with the socket path and the commands clients sent (lines, in order).
 */
const fakeBird = (
  onConnect: (client: Socket, commands: Array<string>) => void
): Effect.Effect<{ readonly path: string; readonly commands: ReadonlyArray<string> }, never, Scope.Scope> =>
  Effect.gen(function* () {
    const path = join(yield* tempDir, "bird.ctl")
    const commands: Array<string> = []
    const clients = new Set<Socket>()
    yield* Effect.acquireRelease(
      Effect.callback<Server>((resume) => {
        const server = createServer((client) => {
          clients.add(client)
          client.on("close", () => clients.delete(client))
          client.on("error", () => {})
          onConnect(client, commands)
        })
        server.listen(path, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          for (const client of clients) client.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return { path, commands }
  })

/** Greets, then answers each command line with the captured reply of `fixture` (after its greeting). */
const replaying = (fixture: string) => (client: Socket, commands: Array<string>) => {
  const text = fixtureText(fixture)
  const greetingEnd = text.indexOf("\n") + 1
  client.write(text.slice(0, greetingEnd))
  let input = ""
  client.on("data", (chunk) => {
    input += chunk.toString()
    for (let end = input.indexOf("\n"); end !== -1; end = input.indexOf("\n")) {
      commands.push(input.slice(0, end))
      input = input.slice(end + 1)
      // byte by byte: the client must reassemble a reply split across reads
      for (const byte of text.slice(greetingEnd)) client.write(byte)
    }
  })
}

const check = (options: BirdFabricHealth.BirdFabricHealthOptions) =>
  FabricHealth.use((health) => health.check).pipe(Effect.provide(BirdFabricHealth.layer(options)))

const checkError = (options: BirdFabricHealth.BirdFabricHealthOptions) => Effect.flip(check(options))

describe("NoFabricHealth", () => {
  it.effect("check - always healthy, says it did not check", () =>
    Effect.gen(function* () {
      const report = yield* FabricHealth.use((health) => health.check).pipe(
        Effect.provide(NoFabricHealth.layer)
      )
      assert.deepStrictEqual(report, {
        healthy: true,
        established: 0,
        required: 0,
        detail: "fabric health not checked",
        epoch: "unchecked"
      })
    })
  )
})

describe("BirdFabricHealth (scripted socket)", () => {
  it.live("check - sends `show protocols` and counts the Established session", () =>
    Effect.gen(function* () {
      const bird = yield* fakeBird(replaying("protocols-established"))
      const report = yield* check({ socket: bird.path })
      assert.deepStrictEqual(report, {
        healthy: true,
        established: 1,
        required: 1,
        detail: "1 of 1 BGP sessions established (need 1)",
        epoch: "unknown"
      })
      assert.deepStrictEqual(bird.commands, ["show protocols"])
    })
  )

  it.live("check - unhealthy below minEstablished; protocols restricts what counts", () =>
    Effect.gen(function* () {
      const bird = yield* fakeBird(replaying("protocols-established"))
      const two = yield* check({ socket: bird.path, minEstablished: 2 })
      assert.deepStrictEqual(two, {
        healthy: false,
        established: 1,
        required: 2,
        detail: "1 of 1 BGP sessions established (need 2)",
        epoch: "unknown"
      })
      const other = yield* check({ socket: bird.path, protocols: ["peer2", "kernel4"] })
      assert.deepStrictEqual(other, {
        healthy: false,
        established: 0,
        required: 1,
        detail: "0 of 0 BGP sessions established (need 1); no BGP protocol named peer2, kernel4",
        epoch: "unknown"
      })
      const zero = yield* check({ socket: bird.path, protocols: ["peer2"], minEstablished: 0 })
      assert.isTrue(zero.healthy)
    })
  )

  it.live("check - a session that is not Established does not count", () =>
    Effect.gen(function* () {
      const bird = yield* fakeBird(replaying("protocols-peer-crashed"))
      const report = yield* check({ socket: bird.path })
      assert.deepStrictEqual(report, {
        healthy: false,
        established: 0,
        required: 1,
        detail: "0 of 1 BGP sessions established (need 1)",
        epoch: "unknown"
      })
    })
  )

  it.live("check - no socket: FabricHealthError naming the path", () =>
    Effect.gen(function* () {
      const path = join(yield* tempDir, "missing.ctl")
      const error = yield* checkError({ socket: path })
      assert.strictEqual(error._tag, "FabricHealthError")
      assert.strictEqual(
        error.message,
        `cannot ask BIRD at ${path}: no such socket (ENOENT): is BIRD running with this control socket?`
      )
    })
  )

  it.live("check - no answer in time: FabricHealthError after the timeout, not before", () =>
    Effect.gen(function* () {
      const bird = yield* fakeBird(() => {})
      const started = yield* Clock.currentTimeMillis
      const error = yield* checkError({ socket: bird.path, timeout: "150 millis" })
      const elapsed = (yield* Clock.currentTimeMillis) - started
      assert.strictEqual(
        error.message,
        `cannot ask BIRD at ${bird.path}: no complete answer within 150 ms (no greeting)`
      )
      assert.isAtLeast(elapsed, 140)
      assert.isBelow(elapsed, 1_000)
    })
  )

  it.live("check - an error reply, garbage, an early close: FabricHealthError", () =>
    Effect.gen(function* () {
      const syntax = yield* fakeBird(replaying("syntax-errors"))
      assert.strictEqual(
        (yield* checkError({ socket: syntax.path })).message,
        `cannot ask BIRD at ${syntax.path}: BIRD answered 9001 syntax error, unexpected CF_SYM_UNDEFINED`
      )
      const garbage = yield* fakeBird((client) => client.write("SSH-2.0-OpenSSH_9.2\r\n"))
      assert.strictEqual(
        (yield* checkError({ socket: garbage.path })).message,
        `cannot ask BIRD at ${garbage.path}: not BIRD's control protocol: "SSH-2.0-OpenSSH_9.2\r"`
      )
      const busy = yield* fakeBird((client) => client.end("8016 Too many connections\n"))
      assert.strictEqual(
        (yield* checkError({ socket: busy.path })).message,
        `cannot ask BIRD at ${busy.path}: BIRD refused the connection: 8016 Too many connections`
      )
      const closing = yield* fakeBird((client) => client.end("0001 BIRD 2.0.12 ready.\n"))
      assert.strictEqual(
        (yield* checkError({ socket: closing.path })).message,
        `cannot ask BIRD at ${closing.path}: BIRD closed the connection before answering`
      )
    })
  )
})

const labReady = isRoot() && hasCommand("bird") && hasCommand("birdc") && hasCommand("ip")

/** Check until `accept` holds or `timeoutMs` passes; returns the last report (the caller asserts on it). */
const pollUntil = (
  options: BirdFabricHealth.BirdFabricHealthOptions,
  accept: (report: FabricReport) => boolean,
  timeoutMs = 10_000
) =>
  Effect.gen(function* () {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    for (;;) {
      const report = yield* check(options)
      if (accept(report) || (yield* Clock.currentTimeMillis) > deadline) return report
      yield* Effect.sleep("20 millis")
    }
  })

/** Run `body` against a fresh two-node lab (one iBGP session per node), torn down afterwards. */
const withLab = <A, E>(body: (lab: Lab) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const lab = yield* labScoped({ nodes: 2, v6: false })
    return yield* body(lab)
  })

privileged("needs root, `ip netns`, `bird` and `birdc` (a BIRD lab)", labReady)(
  "BirdFabricHealth (real BIRD)",
  () => {
    it.live(
      "check - two peered nodes: healthy with 1 established; unhealthy with minEstablished 2",
      () =>
        withLab((lab) =>
          Effect.gen(function* () {
            const socket = lab.nodes[0]?.birdSocket ?? ""
            assert.deepStrictEqual(yield* check({ socket }), {
              healthy: true,
              established: 1,
              required: 1,
              detail: "1 of 1 BGP sessions established (need 1)",
              epoch: "unknown"
            })
            assert.deepStrictEqual(yield* check({ socket, protocols: ["peer1"] }), {
              healthy: true,
              established: 1,
              required: 1,
              detail: "1 of 1 BGP sessions established (need 1)",
              epoch: "unknown"
            })
            assert.deepStrictEqual(yield* check({ socket, minEstablished: 2 }), {
              healthy: false,
              established: 1,
              required: 2,
              detail: "1 of 1 BGP sessions established (need 2)",
              epoch: "unknown"
            })
          })
        ),
      60_000
    )

    it.live(
      "check - the peer's BIRD stopped: unhealthy (0 of 1) once the session drops; healthy again after restart",
      () =>
        withLab((lab) =>
          Effect.gen(function* () {
            const socket = lab.nodes[0]?.birdSocket ?? ""
            assert.isTrue((yield* check({ socket })).healthy)
            yield* Effect.promise(() => lab.stopBird(1))
            const down = yield* pollUntil({ socket }, (report) => !report.healthy)
            assert.deepStrictEqual(down, {
              healthy: false,
              established: 0,
              required: 1,
              detail: "0 of 1 BGP sessions established (need 1)",
              epoch: "unknown"
            })
            // the stopped daemon's own socket is gone
            const stopped = yield* checkError({ socket: lab.nodes[1]?.birdSocket ?? "" })
            assert.include(stopped.message, lab.nodes[1]?.birdSocket ?? "?")
            yield* Effect.promise(() => lab.startBird(1))
            assert.isTrue((yield* pollUntil({ socket }, (report) => report.healthy)).healthy)
          })
        ),
      60_000
    )

    it.live(
      "check - the peer's BIRD crashed: unhealthy; its stale socket refuses (FabricHealthError)",
      () =>
        withLab((lab) =>
          Effect.gen(function* () {
            const socket = lab.nodes[0]?.birdSocket ?? ""
            const peerSocket = lab.nodes[1]?.birdSocket ?? ""
            assert.isTrue((yield* check({ socket: peerSocket })).healthy)
            yield* Effect.promise(() => lab.killBird(1, "SIGKILL"))
            const down = yield* pollUntil({ socket }, (report) => !report.healthy)
            assert.strictEqual(down.detail, "0 of 1 BGP sessions established (need 1)")
            const error = yield* checkError({ socket: peerSocket })
            assert.strictEqual(
              error.message,
              `cannot ask BIRD at ${peerSocket}: connection refused (ECONNREFUSED): no BIRD is listening on it`
            )
          })
        ),
      60_000
    )

    it.live("check - no socket next to a running lab: FabricHealthError naming the path", () =>
      withLab((lab) =>
        Effect.gen(function* () {
          const path = join(lab.dir, "n1", "nope.ctl")
          const error = yield* checkError({ socket: path })
          assert.match(error.message, new RegExp(`^cannot ask BIRD at ${path}: no such socket \\(ENOENT\\)`))
        })
      )
    )
  }
)
