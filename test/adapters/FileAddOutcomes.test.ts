// ADD outcome counters on disk: one delta per add, folded into a total without double counting, unreadable files read as zero, never fails.
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
    "add writes deltas under <network>/.counters.d, fold sums them into .counters.json; a second store (another process) reads both",
    () =>
      Effect.gen(function* () {
        const dir = yield* withDir
        const store = FileAddOutcomes.make(dir)
        assert.deepStrictEqual(yield* store.read("pods"), noOutcomes)
        assert.strictEqual(yield* store.add("pods", { won: 1, lostRaces: 2 }), 1)
        assert.strictEqual(yield* store.add("pods", { won: 1, exhausted: 1 }), 2, "two deltas wait")
        yield* store.add("other", { tryAgainLater: 1 })
        const again = FileAddOutcomes.make(dir)
        const expected = { won: 2, lostRaces: 2, refused: 0, exhausted: 1, tryAgainLater: 0 }
        assert.deepStrictEqual(yield* again.read("pods"), expected, "deltas alone")
        yield* again.fold("pods")
        assert.deepStrictEqual(yield* store.read("pods"), expected, "folded")
        assert.strictEqual(yield* store.add("pods", { won: 1 }), 1, "the fold removed the deltas it took")
        assert.deepStrictEqual(yield* store.read("pods"), { ...expected, won: 3 }, "total + a new delta")
        yield* store.fold("pods")
        assert.strictEqual((yield* again.read("other")).tryAgainLater, 1)
        const names = yield* Effect.promise(() => Fs.readdir(Path.join(dir, "pods")))
        assert.deepStrictEqual(names.sort(), [".counters.d", ".counters.json"])
        assert.deepStrictEqual(
          yield* Effect.promise(() => Fs.readdir(Path.join(dir, "pods", ".counters.d"))),
          [],
          "no delta or temporary file left"
        )
        const mode =
          (yield* Effect.promise(() => Fs.stat(Path.join(dir, "pods", ".counters.json")))).mode & 0o777
        assert.strictEqual(mode, 0o600)
      }).pipe(Effect.scoped)
  )

  it.effect("a torn or foreign total reads as zero and is replaced by the next fold", () =>
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
      yield* store.fold("pods")
      const written = JSON.parse(yield* Effect.promise(() => Fs.readFile(file, "utf8")))
      assert.deepStrictEqual(
        { ...written, folded: undefined },
        { ...noOutcomes, refused: 1, folded: undefined }
      )
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
        assert.strictEqual(yield* store.add("pods", { won: 1 }), 0)
        yield* store.fold("pods")
        assert.deepStrictEqual(yield* store.read("pods"), noOutcomes)
        // where Node's mkdir -p spins forever (a parent under /proc answers ENOENT): answers at once
        yield* Effect.promise(() => Fs.symlink("/proc/1", Path.join(dir, "proc-link")))
        const spinning = FileAddOutcomes.make(Path.join(dir, "proc-link", "x"))
        yield* spinning.add("pods", { won: 1 })
        yield* spinning.fold("pods")
        assert.deepStrictEqual(yield* spinning.read("pods"), noOutcomes)
        yield* Effect.promise(() => Fs.rm(Path.join(dir, "proc-link")))
        const fine = FileAddOutcomes.make(dir)
        yield* fine.add("../escape", { won: 1 })
        assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(dir)), ["file"])
      }).pipe(Effect.scoped)
  )

  it.effect(
    "a fold that dies after writing the total and before removing its deltas counts nothing twice",
    () =>
      Effect.gen(function* () {
        const dir = yield* withDir
        const store = FileAddOutcomes.make(dir)
        for (let i = 0; i < 3; i++) yield* store.add("pods", { won: 1 })
        const deltas = Path.join(dir, "pods", FileAddOutcomes.countersDeltaDirName)
        const names = yield* Effect.promise(() => Fs.readdir(deltas))
        const saved = yield* Effect.forEach(names, (name) =>
          Effect.promise(() => Fs.readFile(Path.join(deltas, name), "utf8"))
        )
        yield* store.fold("pods")
        // the crash: the deltas are back, as if the fold died right after renaming the total
        yield* Effect.forEach(names, (name, i) =>
          Effect.promise(() => Fs.writeFile(Path.join(deltas, name), saved[i] ?? ""))
        )
        assert.strictEqual((yield* store.read("pods")).won, 3, "read skips the deltas the total names")
        yield* store.add("pods", { won: 1 })
        yield* store.fold("pods")
        assert.strictEqual((yield* store.read("pods")).won, 4, "the next fold skips them too")
        // negative control: a total that does not name them counts them twice
        const file = Path.join(dir, "pods", FileAddOutcomes.countersFileName)
        yield* Effect.forEach(names, (name, i) =>
          Effect.promise(() => Fs.writeFile(Path.join(deltas, name), saved[i] ?? ""))
        )
        yield* Effect.promise(() => Fs.writeFile(file, JSON.stringify({ ...noOutcomes, won: 4 })))
        assert.strictEqual((yield* store.read("pods")).won, 7)
      }).pipe(Effect.scoped)
  )

  it.effect("adds, folds and reads interleaved: the count only grows and ends exact", () =>
    Effect.gen(function* () {
      const dir = yield* withDir
      const store = FileAddOutcomes.make(dir)
      let last = 0
      for (let round = 0; round < 40; round++) {
        yield* store.add("pods", { won: 1 })
        if (round % 3 === 0) yield* store.fold("pods")
        const won = (yield* store.read("pods")).won
        assert.isAtLeast(won, last)
        last = won
      }
      assert.strictEqual(last, 40)
    }).pipe(Effect.scoped)
  )

  it.effect(
    "a delta that cannot be read (here a directory named like one) counts as nothing; read still ends",
    () =>
      Effect.gen(function* () {
        const dir = yield* withDir
        const store = FileAddOutcomes.make(dir)
        yield* store.add("pods", { won: 1 })
        const deltas = Path.join(dir, "pods", FileAddOutcomes.countersDeltaDirName)
        yield* Effect.promise(() => Fs.mkdir(Path.join(deltas, "0-unreadable.json")))
        // before: any failed read was taken for a fold's removal and read started over, forever
        assert.strictEqual((yield* store.read("pods")).won, 1)
      }).pipe(Effect.scoped)
  )
})
