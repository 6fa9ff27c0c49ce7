// ADD outcome counters on disk: sums across writers, atomic replacement, unreadable files read as zero, never fails.
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FileAddOutcomes from "../../src/adapters/FileAddOutcomes.ts"
import { noOutcomes } from "../../src/domain/AddOutcomes.ts"

const withDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routetable-ipam-counters-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

describe("FileAddOutcomes", () => {
  it.effect(
    "add sums into <dataDir>/<network>/.counters.json; a second store (another process) reads them",
    () =>
      Effect.gen(function* () {
        const dir = yield* withDir
        const store = FileAddOutcomes.make(dir)
        assert.deepStrictEqual(yield* store.read("pods"), noOutcomes)
        yield* store.add("pods", { won: 1, lostRaces: 2 })
        yield* store.add("pods", { won: 1, exhausted: 1 })
        yield* store.add("other", { tryAgainLater: 1 })
        const again = FileAddOutcomes.make(dir)
        assert.deepStrictEqual(yield* again.read("pods"), {
          won: 2,
          lostRaces: 2,
          refused: 0,
          exhausted: 1,
          tryAgainLater: 0
        })
        assert.strictEqual((yield* again.read("other")).tryAgainLater, 1)
        const names = yield* Effect.promise(() => Fs.readdir(Path.join(dir, "pods")))
        assert.deepStrictEqual(names, [".counters.json"], "no temporary file left")
        const mode =
          (yield* Effect.promise(() => Fs.stat(Path.join(dir, "pods", ".counters.json")))).mode & 0o777
        assert.strictEqual(mode, 0o600)
      }).pipe(Effect.scoped)
  )

  it.effect("a torn or foreign file reads as zero and is replaced by the next add", () =>
    Effect.gen(function* () {
      const dir = yield* withDir
      const file = Path.join(dir, "pods", ".counters.json")
      yield* Effect.promise(() => Fs.mkdir(Path.dirname(file), { recursive: true }))
      const store = FileAddOutcomes.make(dir)
      for (const text of ['{"won": 3', '{"won": -1}', '{"won": 1.5}', "[]", ""]) {
        yield* Effect.promise(() => Fs.writeFile(file, text))
        assert.deepStrictEqual(yield* store.read("pods"), noOutcomes, text)
      }
      yield* store.add("pods", { refused: 1 })
      assert.deepStrictEqual(JSON.parse(yield* Effect.promise(() => Fs.readFile(file, "utf8"))), {
        ...noOutcomes,
        refused: 1
      })
    }).pipe(Effect.scoped)
  )

  it.effect(
    "an unwritable data directory loses the count, never fails; an invalid network name is ignored",
    () =>
      Effect.gen(function* () {
        const dir = yield* withDir
        const notADir = Path.join(dir, "file")
        yield* Effect.promise(() => Fs.writeFile(notADir, ""))
        const store = FileAddOutcomes.make(notADir)
        yield* store.add("pods", { won: 1 })
        assert.deepStrictEqual(yield* store.read("pods"), noOutcomes)
        // where Node's mkdir -p spins forever (a parent under /proc answers ENOENT): answers at once
        yield* Effect.promise(() => Fs.symlink("/proc/1", Path.join(dir, "proc-link")))
        const spinning = FileAddOutcomes.make(Path.join(dir, "proc-link", "x"))
        yield* spinning.add("pods", { won: 1 })
        assert.deepStrictEqual(yield* spinning.read("pods"), noOutcomes)
        yield* Effect.promise(() => Fs.rm(Path.join(dir, "proc-link")))
        const fine = FileAddOutcomes.make(dir)
        yield* fine.add("../escape", { won: 1 })
        assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(dir)), ["file"])
      }).pipe(Effect.scoped)
  )
})
