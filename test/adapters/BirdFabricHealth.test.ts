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
import {
  blockBgp,
  type Lab,
  type LabNode,
  type LabOptions,
  protocolTowards,
  scoped as labScoped,
  setSession,
  unblockBgp
} from "../support/Lab.ts"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { fixtureReplyTexts } from "./bird/Fixtures.ts"

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

/**
 * Greets, then answers the k-th command line with the k-th captured reply of `fixture` (after its
 * greeting), byte by byte: the client must reassemble replies split across reads.
 */
const replaying = (fixture: string) => (client: Socket, commands: Array<string>) => {
  const [greeting = "", ...replies] = fixtureReplyTexts(fixture)
  client.write(greeting)
  let input = ""
  let answered = 0
  client.on("data", (chunk) => {
    input += chunk.toString()
    for (let end = input.indexOf("\n"); end !== -1; end = input.indexOf("\n")) {
      commands.push(input.slice(0, end))
      input = input.slice(end + 1)
      for (const byte of replies[answered++] ?? "9001 no more replies in the fixture\n") client.write(byte)
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

/** A report without its epoch (a fingerprint), for comparing the rest. */
const withoutEpoch = ({ epoch: _, ...rest }: FabricReport) => rest

describe("BirdFabricHealth (scripted socket)", () => {
  it.live(
    "check - BIRD in graceful restart recovery (started with -R) is unhealthy though every session is Established: its kernel lacks the learned routes",
    () =>
      Effect.gen(function* () {
        const bird = yield* fakeBird(replaying("status-protocols-all-recovering"))
        const report = yield* check({ socket: bird.path })
        assert.strictEqual(report.healthy, false)
        assert.strictEqual(report.established, 2)
        assert.strictEqual(report.required, 2)
        assert.strictEqual(
          report.detail,
          "2 of 2 BGP sessions established (need all); graceful restart recovery in progress (learned routes not yet in the kernel)"
        )
      })
  )

  it.live(
    "check - a route reflector: its listening `neighbor range` protocol never counts; the client sessions it spawned do (one down: unhealthy)",
    () =>
      Effect.gen(function* () {
        const bird = yield* fakeBird(replaying("status-protocols-all-reflector"))
        const report = yield* check({ socket: bird.path })
        assert.strictEqual(report.healthy, false)
        assert.strictEqual(report.established, 2)
        assert.strictEqual(report.required, 3, "peer_198_18_0_2, client1, client2; not clients")
        assert.strictEqual(report.detail, "2 of 3 BGP sessions established (need all)")
      })
  )

  it.live(
    "check - asks `show status` then `show protocols`; every session Established and settled: healthy",
    () =>
      Effect.gen(function* () {
        const bird = yield* fakeBird(replaying("status-protocols-established"))
        const report = yield* check({ socket: bird.path })
        assert.deepStrictEqual(withoutEpoch(report), {
          healthy: true,
          established: 2,
          required: 2,
          detail: "2 of 2 BGP sessions established (need all)"
        })
        assert.match(report.epoch, /^[0-9a-f]{16}$/)
        assert.deepStrictEqual(bird.commands, ["show status", "show protocols all"])
      })
  )

  it.live(
    "check - by default one session down is unhealthy; minEstablished relaxes; protocols restricts what counts",
    () =>
      Effect.gen(function* () {
        const bird = yield* fakeBird(replaying("status-protocols-peer-disabled"))
        assert.deepStrictEqual(withoutEpoch(yield* check({ socket: bird.path })), {
          healthy: false,
          established: 1,
          required: 2,
          detail: "1 of 2 BGP sessions established (need all)"
        })
        assert.deepStrictEqual(withoutEpoch(yield* check({ socket: bird.path, minEstablished: 1 })), {
          healthy: true,
          established: 1,
          required: 1,
          detail: "1 of 2 BGP sessions established (need 1)"
        })
        assert.isTrue((yield* check({ socket: bird.path, protocols: ["peer1"] })).healthy)
        assert.deepStrictEqual(
          withoutEpoch(yield* check({ socket: bird.path, protocols: ["peer1", "peer9"] })),
          {
            healthy: false,
            established: 1,
            required: 2,
            detail: "1 of 1 BGP sessions established (need all); no BGP protocol named peer9"
          }
        )
      })
  )

  it.live("check - a session that came up 186 ms ago is settling: unhealthy, named in the detail", () =>
    Effect.gen(function* () {
      const bird = yield* fakeBird(replaying("status-protocols-peer-settling"))
      const report = yield* check({ socket: bird.path })
      assert.isFalse(report.healthy)
      assert.strictEqual(
        report.detail,
        "2 of 2 BGP sessions established (need all); peer2 settling (Established since 2026-11-29 05:35:15.419, BIRD time 2026-11-29 05:35:15.605)"
      )
    })
  )

  it.live(
    "check - one service keeps its epoch while the sessions stay; another state gives another epoch",
    () =>
      Effect.gen(function* () {
        const established = yield* fakeBird(replaying("status-protocols-established"))
        const disabled = yield* fakeBird(replaying("status-protocols-peer-disabled"))
        const service = BirdFabricHealth.make({ socket: established.path })
        const first = yield* service.check
        const second = yield* service.check
        assert.strictEqual(second.epoch, first.epoch)
        const other = yield* BirdFabricHealth.make({ socket: disabled.path }).check
        assert.notStrictEqual(other.epoch, first.epoch)
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
      // the first command (show status) gets the syntax error
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

/** Run `body` against a fresh lab (one iBGP session per pair of nodes), torn down afterwards. */
const withLab = <A, E>(body: (lab: Lab) => Effect.Effect<A, E>, options: Partial<LabOptions> = {}) =>
  Effect.gen(function* () {
    const lab = yield* labScoped({ nodes: 2, v6: false, ...options })
    return yield* body(lab)
  })

const nodeOf = (lab: Lab, index: number): LabNode => {
  const node = lab.nodes[index]
  if (node === undefined) throw new Error(`no node ${index}`)
  return node
}

/** Checks with one service for `forMs`: every report, in order. */
const watchReports = (service: FabricHealth["Service"], forMs: number) =>
  Effect.gen(function* () {
    const reports: Array<FabricReport> = []
    const deadline = (yield* Clock.currentTimeMillis) + forMs
    while ((yield* Clock.currentTimeMillis) < deadline) {
      reports.push(yield* service.check)
      yield* Effect.sleep("10 millis")
    }
    return reports
  })

/** One service's checks until `accept` holds (or `timeoutMs`); the last report. */
const serviceUntil = (
  service: FabricHealth["Service"],
  accept: (report: FabricReport) => boolean,
  timeoutMs = 15_000
) =>
  Effect.gen(function* () {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    for (;;) {
      const report = yield* service.check
      if (accept(report) || (yield* Clock.currentTimeMillis) > deadline) return report
      yield* Effect.sleep("10 millis")
    }
  })

const distinct = (reports: ReadonlyArray<FabricReport>) => [...new Set(reports.map((report) => report.epoch))]

privileged("needs root, `ip netns`, `bird` and `birdc` (a BIRD lab)", labReady)(
  "BirdFabricHealth (real BIRD)",
  () => {
    it.live(
      "check - two peered nodes: healthy, every session required; minEstablished 2 cannot be met",
      () =>
        withLab((lab) =>
          Effect.gen(function* () {
            const socket = nodeOf(lab, 0).birdSocket
            const healthy = yield* pollUntil({ socket }, (report) => report.healthy)
            assert.deepStrictEqual(withoutEpoch(healthy), {
              healthy: true,
              established: 1,
              required: 1,
              detail: "1 of 1 BGP sessions established (need all)"
            })
            assert.isTrue((yield* check({ socket, protocols: ["peer1"] })).healthy)
            assert.deepStrictEqual(withoutEpoch(yield* check({ socket, minEstablished: 2 })), {
              healthy: false,
              established: 1,
              required: 2,
              detail: "1 of 1 BGP sessions established (need 2)"
            })
          })
        ),
      60_000
    )

    it.live(
      "epoch - 3 nodes: unchanged while nothing happens (claims come and go); `birdc disable` moves it, `enable` moves it again",
      () =>
        withLab(
          (lab) =>
            Effect.gen(function* () {
              const [n1, n2, n3] = [nodeOf(lab, 0), nodeOf(lab, 1), nodeOf(lab, 2)]
              const service = BirdFabricHealth.make({ socket: n1.birdSocket })
              const settled = yield* serviceUntil(service, (report) => report.healthy)
              assert.isTrue(settled.healthy, settled.detail)
              const n3Service = BirdFabricHealth.make({ socket: n3.birdSocket })
              const n3Before = yield* serviceUntil(n3Service, (report) => report.healthy)
              // claims on the other nodes travel to n1 meanwhile: routes are not sessions
              yield* Effect.promise(() =>
                n2.exec("ip", [
                  "route",
                  "add",
                  "100.64.9.9/32",
                  "dev",
                  "pods0",
                  "proto",
                  "192",
                  "metric",
                  "4096"
                ])
              )
              const quiet = yield* watchReports(service, 1_500)
              yield* Effect.promise(() =>
                n2.exec("ip", ["route", "del", "100.64.9.9/32", "dev", "pods0", "proto", "192"])
              )
              assert.isAbove(quiet.length, 20)
              assert.deepStrictEqual(distinct(quiet), [settled.epoch], "one epoch while nothing changed")
              assert.isTrue(quiet.every((report) => report.healthy))

              // n1 shuts its session to n3 down
              yield* Effect.promise(() => setSession(n1, protocolTowards(lab.nodes, n1, n3), false))
              const disabled = yield* service.check
              assert.deepStrictEqual(
                [disabled.healthy, disabled.detail],
                [false, "1 of 2 BGP sessions established (need all)"]
              )
              assert.notStrictEqual(disabled.epoch, settled.epoch)
              // the relaxation still sees the one session: healthy, but its epoch moved as well
              const relaxed = yield* BirdFabricHealth.make({ socket: n1.birdSocket, minEstablished: 1 }).check
              assert.isTrue(relaxed.healthy)
              assert.notStrictEqual(relaxed.epoch, settled.epoch)

              yield* Effect.promise(() => setSession(n1, protocolTowards(lab.nodes, n1, n3), true))
              const back = yield* serviceUntil(service, (report) => report.healthy)
              assert.isTrue(back.healthy, back.detail)
              assert.notInclude([settled.epoch, disabled.epoch], back.epoch)
              // n3's own view: its session to n1 went down and came back too
              const n3After = yield* serviceUntil(n3Service, (report) => report.healthy)
              assert.notStrictEqual(n3After.epoch, n3Before.epoch)
            }),
          { nodes: 3 }
        ),
      60_000
    )

    it.live(
      "epoch - a session that times out (TCP 179 blocked, hold time 3 s): same epoch until the hold timer fires, then another; back: another",
      () =>
        withLab(
          (lab) =>
            Effect.gen(function* () {
              const [n1, n2] = [nodeOf(lab, 0), nodeOf(lab, 1)]
              const service = BirdFabricHealth.make({ socket: n1.birdSocket })
              const before = yield* serviceUntil(service, (report) => report.healthy)
              assert.isTrue(before.healthy, before.detail)
              yield* Effect.promise(() => blockBgp(n1, n2))
              const blockedAt = yield* Clock.currentTimeMillis
              try {
                // BGP cannot tell a silent peer from a quiet one until the hold time has passed
                const silent = yield* watchReports(service, 1_000)
                assert.deepStrictEqual(distinct(silent), [before.epoch])
                const down = yield* serviceUntil(service, (report) => !report.healthy, 10_000)
                const tookMs = (yield* Clock.currentTimeMillis) - blockedAt
                assert.isFalse(down.healthy, down.detail)
                assert.notStrictEqual(down.epoch, before.epoch)
                assert.isAtLeast(tookMs, 1_500, "no sooner than the hold timer")
                assert.isAtMost(tookMs, 6_000, "hold time 3 s")
              } finally {
                yield* Effect.promise(() => unblockBgp(n1, n2))
              }
              const back = yield* serviceUntil(service, (report) => report.healthy, 20_000)
              assert.isTrue(back.healthy, back.detail)
              assert.notStrictEqual(back.epoch, before.epoch)
            }),
          { holdTime: 3 }
        ),
      60_000
    )

    it.live(
      "check - the peer's BIRD stopped: unhealthy (0 of 1) once the session drops; healthy again after restart",
      () =>
        withLab((lab) =>
          Effect.gen(function* () {
            const socket = nodeOf(lab, 0).birdSocket
            const service = BirdFabricHealth.make({ socket })
            const before = yield* serviceUntil(service, (report) => report.healthy)
            assert.isTrue(before.healthy)
            yield* Effect.promise(() => lab.stopBird(1))
            const down = yield* serviceUntil(service, (report) => !report.healthy)
            assert.deepStrictEqual(withoutEpoch(down), {
              healthy: false,
              established: 0,
              required: 1,
              detail: "0 of 1 BGP sessions established (need all)"
            })
            assert.notStrictEqual(down.epoch, before.epoch)
            // the stopped daemon's own socket is gone
            const stopped = yield* checkError({ socket: nodeOf(lab, 1).birdSocket })
            assert.include(stopped.message, nodeOf(lab, 1).birdSocket)
            yield* Effect.promise(() => lab.startBird(1))
            const back = yield* serviceUntil(service, (report) => report.healthy)
            assert.isTrue(back.healthy)
            assert.notInclude([before.epoch, down.epoch], back.epoch)
          })
        ),
      60_000
    )

    it.live(
      "check - the peer's BIRD crashed: unhealthy; its stale socket refuses (FabricHealthError)",
      () =>
        withLab((lab) =>
          Effect.gen(function* () {
            const socket = nodeOf(lab, 0).birdSocket
            const peerSocket = nodeOf(lab, 1).birdSocket
            assert.isTrue((yield* pollUntil({ socket: peerSocket }, (report) => report.healthy)).healthy)
            yield* Effect.promise(() => lab.killBird(1, "SIGKILL"))
            const down = yield* pollUntil({ socket }, (report) => !report.healthy)
            assert.strictEqual(down.detail, "0 of 1 BGP sessions established (need all)")
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
