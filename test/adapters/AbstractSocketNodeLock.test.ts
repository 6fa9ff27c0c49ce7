// The node lock across processes: one holder at a time, a waiter times out, and a SIGKILLed holder frees it at once.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { lockName, make } from "../../src/adapters/AbstractSocketNodeLock.ts"

const adapter = Path.resolve(import.meta.dirname, "../../src/adapters/AbstractSocketNodeLock.ts")
const node = Path.resolve(import.meta.dirname, "../../node_modules/.bin/node")

/** A child process that takes the lock of (dataDir, network), says "locked", and holds it until killed. */
const holder = (dataDir: string, network: string): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const script = `
      import * as Effect from "effect/Effect"
      import { make } from ${JSON.stringify(adapter)}
      await Effect.runPromise(make({ dataDir: ${JSON.stringify(dataDir)} }).withLock(${JSON.stringify(network)},
        Effect.andThen(Effect.sync(() => console.log("locked")), Effect.sleep("1 hour"))))
    `
    const child = spawn(node, ["--input-type=module", "-e", script], {
      cwd: Path.resolve(import.meta.dirname, "../.."),
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("locked")) resolve(child)
    })
    child.once("exit", (code) => reject(new Error(`holder exited with ${code}`)))
  })

/** Which of node:net and node:cluster a child that ran `script` (ESM, in the project) had loaded at its end. */
const loadedBy = (script: string): { readonly net: boolean; readonly cluster: boolean } => {
  const run = spawnSync(
    node,
    [
      "--input-type=module",
      "-e",
      `${script}
      const loaded = (id) => process.moduleLoadList.includes("NativeModule " + id)
      console.log(JSON.stringify({ net: loaded("net"), cluster: loaded("cluster") }))`
    ],
    { cwd: Path.resolve(import.meta.dirname, "../.."), encoding: "utf8" }
  )
  assert.strictEqual(run.status, 0, run.stderr)
  return JSON.parse(run.stdout)
}

describe("AbstractSocketNodeLock", () => {
  it("importing the adapter loads no node:net; taking a lock loads net but not node:cluster", () => {
    const imported = loadedBy(`await import(${JSON.stringify(adapter)})`)
    assert.deepStrictEqual(imported, { net: false, cluster: false })
    const locked = loadedBy(`
      import * as Effect from "effect/Effect"
      import { make } from ${JSON.stringify(adapter)}
      await Effect.runPromise(make({ dataDir: "/test/${process.pid}/modules" }).withLock("pods", Effect.void))`)
    assert.deepStrictEqual(locked, { net: true, cluster: false })
    // negative control: Node's own listen() on the same kind of name loads cluster
    const listened = loadedBy(`
      import * as Net from "node:net"
      const server = Net.createServer()
      await new Promise((resolve) => server.listen({ path: "\\0rtipam-test-${process.pid}", exclusive: true }, resolve))
      server.close()`)
    assert.deepStrictEqual(listened, { net: true, cluster: true })
  })

  it("names: one per (dataDir, network), abstract, within the kernel's 108 bytes", () => {
    assert.notStrictEqual(lockName("/a", "pods"), lockName("/b", "pods"))
    assert.notStrictEqual(lockName("/a", "pods"), lockName("/a", "pods2"))
    assert.isTrue(lockName("/a", "pods").startsWith("\0"))
    assert.isAtMost(Buffer.byteLength(lockName("/x".repeat(500), "n".repeat(300))), 107)
  })

  it.live("fibers of one process take turns", () =>
    Effect.gen(function* () {
      const lock = make({ dataDir: `/test/${process.pid}/fibers` })
      const trace: Array<string> = []
      const section = (name: string) =>
        lock.withLock(
          "pods",
          Effect.gen(function* () {
            trace.push(`${name} in`)
            yield* Effect.sleep(Duration.millis(30))
            trace.push(`${name} out`)
          })
        )
      yield* Effect.all([section("a"), section("b"), section("c")], { concurrency: "unbounded" })
      for (let i = 0; i < trace.length; i += 2) {
        assert.match(trace[i]!, / in$/)
        assert.strictEqual(trace[i + 1], trace[i]!.replace(" in", " out"), trace.join(", "))
      }
    })
  )

  it.live("another process's lock makes us wait until it dies; SIGKILL frees it at once", () =>
    Effect.gen(function* () {
      const dataDir = `/test/${process.pid}/processes`
      const child = yield* Effect.promise(() => holder(dataDir, "pods"))
      try {
        const impatient = make({ dataDir, timeout: Duration.millis(300) })
        const timedOut = yield* Effect.exit(impatient.withLock("pods", Effect.void))
        assert.isTrue(Exit.isFailure(timedOut))
        assert.include(String(timedOut), "NodeLockTimeout")
        // another network of the same dataDir is not blocked
        yield* impatient.withLock("other", Effect.void)
        const patient = make({ dataDir, timeout: Duration.seconds(20) })
        const waiting = yield* Effect.forkChild(patient.withLock("pods", Effect.succeed("got it")))
        yield* Effect.sleep(Duration.millis(100))
        assert.isUndefined(waiting.pollUnsafe(), "still waiting while the holder lives")
        const killedAt = performance.now()
        child.kill("SIGKILL")
        assert.strictEqual(yield* Fiber.join(waiting), "got it")
        assert.isBelow(performance.now() - killedAt, 2000, "the kernel frees the lock with its holder")
      } finally {
        child.kill("SIGKILL")
      }
    })
  )
})
