// Tests of the file attachment store in temporary directories.
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as FileAttachments from "../../src/adapters/FileAttachments.ts"
import { type Attachment, Attachments, AttachmentsError } from "../../src/domain/Attachments.ts"
import { formatIp, type Ip, parseIp } from "../../src/domain/Ip.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))

const record = (containerId: string, ifname = "eth0", network = "pods"): Attachment => ({
  network,
  containerId,
  ifname,
  addresses: [at("100.64.0.5"), at("fd00::5")],
  pending: [at("100.64.0.6")]
})

const key = (containerId: string, ifname = "eth0", network = "pods") => ({ network, containerId, ifname })

/** A fresh temporary directory `base` (removed afterwards) with the store under `base/data`. */
const withStore = Effect.gen(function* () {
  const base = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routetable-ipam-attachments-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
  const dataDir = Path.join(base, "data")
  return { base, dataDir, store: FileAttachments.make(dataDir) }
})

const io = <A>(f: () => Promise<A>) => Effect.promise(f)

/** Every path under `dir`, relative, sorted. */
const tree = (dir: string) =>
  io(async () => ((await Fs.readdir(dir, { recursive: true })) as Array<string>).sort())

describe("FileAttachments", () => {
  it.effect("put/get - round trip through the documented JSON layout", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      assert.isUndefined(yield* store.get(key("c1")))
      yield* store.put(record("c1"))
      assert.deepStrictEqual(yield* store.get(key("c1")), record("c1"))
      const text = yield* io(() => Fs.readFile(Path.join(dataDir, "pods", "c1@eth0.json"), "utf8"))
      assert.deepStrictEqual(JSON.parse(text), {
        containerId: "c1",
        ifname: "eth0",
        network: "pods",
        addresses: ["100.64.0.5", "fd00::5"],
        pending: ["100.64.0.6"]
      })
      const confirmed = { ...record("c1"), addresses: [at("fd00::1:0:0:5")], pending: [] }
      yield* store.put(confirmed)
      assert.deepStrictEqual(yield* store.get(key("c1")), confirmed)
    })
  )

  it.effect(
    "the pod round-trips (with and without namespace); a malformed pod reads as none, not as corrupt",
    () =>
      Effect.gen(function* () {
        const { dataDir, store } = yield* withStore
        const named = { ...record("c1"), pod: { namespace: "shop", name: "cart-7d9f" } }
        yield* store.put(named)
        assert.deepStrictEqual(yield* store.get(key("c1")), named)
        const file = Path.join(dataDir, "pods", "c1@eth0.json")
        assert.deepStrictEqual(JSON.parse(yield* io(() => Fs.readFile(file, "utf8"))).pod, {
          namespace: "shop",
          name: "cart-7d9f"
        })
        const podman = { ...record("c2"), pod: { name: "web" } }
        yield* store.put(podman)
        assert.deepStrictEqual(yield* store.get(key("c2")), podman)
        for (const pod of [42, { namespace: "x" }, ["a"], { name: 7 }]) {
          const text = JSON.stringify({ ...JSON.parse(FileAttachments.encodeRecord(record("c3"))), pod })
          assert.deepStrictEqual(FileAttachments.decodeRecord(text), record("c3"), JSON.stringify(pod))
        }
        assert.deepStrictEqual(
          FileAttachments.decodeRecord(
            JSON.stringify({
              ...JSON.parse(FileAttachments.encodeRecord(record("c4"))),
              pod: { namespace: 1, name: "n" }
            })
          ),
          { ...record("c4"), pod: { name: "n" } }
        )
      })
  )

  it.effect("put - atomic: no temp file left, directories 0700, file 0600", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      for (let i = 0; i < 5; i++) yield* store.put({ ...record("c1"), pending: [at(`100.64.0.${10 + i}`)] })
      yield* Effect.all(
        Array.from({ length: 20 }, (_, i) =>
          store.put({ ...record("c2"), addresses: [at(`100.64.1.${i}`)] })
        ),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(yield* tree(dataDir), ["pods", "pods/c1@eth0.json", "pods/c2@eth0.json"])
      const last = yield* store.get(key("c2"))
      assert.strictEqual(last?.addresses.length, 1)
      assert.deepStrictEqual(last?.pending, [at("100.64.0.6")])
      assert.strictEqual((yield* io(() => Fs.stat(dataDir))).mode & 0o777, 0o700)
      assert.strictEqual((yield* io(() => Fs.stat(Path.join(dataDir, "pods")))).mode & 0o777, 0o700)
      assert.strictEqual(
        (yield* io(() => Fs.stat(Path.join(dataDir, "pods", "c1@eth0.json")))).mode & 0o777,
        0o600
      )
    })
  )

  it.effect("put - a failed rename fails with AttachmentsError and removes its temp file", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      // a non-empty directory where the record should go: rename cannot replace it
      yield* io(() => Fs.mkdir(Path.join(dataDir, "pods", "c1@eth0.json", "x"), { recursive: true }))
      const error = yield* Effect.flip(store.put(record("c1")))
      assert.instanceOf(error, AttachmentsError)
      assert.strictEqual(error.operation, "put")
      assert.include(error.message, Path.join(dataDir, "pods", "c1@eth0.json"))
      assert.deepStrictEqual(yield* tree(Path.join(dataDir, "pods")), ["c1@eth0.json", "c1@eth0.json/x"])
    })
  )

  it.effect("file names - container IDs and interface names with dots never share a file", () =>
    Effect.gen(function* () {
      const { store } = yield* withStore
      yield* store.put({ ...record("a.b", "c"), addresses: [at("100.64.0.1")] })
      yield* store.put({ ...record("a", "b.c"), addresses: [at("100.64.0.2")] })
      assert.deepStrictEqual((yield* store.get(key("a.b", "c")))?.addresses, [at("100.64.0.1")])
      assert.deepStrictEqual((yield* store.get(key("a", "b.c")))?.addresses, [at("100.64.0.2")])
      assert.strictEqual((yield* store.list("pods")).length, 2)
    })
  )

  it.effect("list - missing directory is empty; records sorted; other networks apart", () =>
    Effect.gen(function* () {
      const { store } = yield* withStore
      assert.deepStrictEqual(yield* store.list("pods"), [])
      yield* store.put(record("c2"))
      yield* store.put(record("c1", "net1"))
      yield* store.put(record("c1"))
      yield* store.put(record("c9", "eth0", "other"))
      assert.deepStrictEqual(
        (yield* store.list("pods")).map((a) => `${a.containerId}/${a.ifname}`),
        ["c1/eth0", "c1/net1", "c2/eth0"]
      )
      assert.deepStrictEqual(yield* store.list("other"), [record("c9", "eth0", "other")])
    })
  )

  it.effect(
    "list - skips temp files; moves corrupt and misfiled records aside with a warning; they stay held",
    () =>
      Effect.gen(function* () {
        const { dataDir, store } = yield* withStore
        const warnings: Array<string> = []
        const capture = Logger.make((options) => {
          if (options.logLevel === "Warn") warnings.push(String(options.message))
        })
        yield* store.put(record("good"))
        const dir = Path.join(dataDir, "pods")
        yield* io(() => Fs.writeFile(Path.join(dir, "bad@eth0.json"), "{ not json"))
        yield* io(() =>
          Fs.writeFile(
            Path.join(dir, "badip@eth0.json"),
            JSON.stringify({
              containerId: "badip",
              ifname: "eth0",
              network: "pods",
              addresses: ["300.1.1.1"],
              pending: []
            })
          )
        )
        // a valid record under the wrong name
        const copied = yield* io(() => Fs.readFile(Path.join(dir, "good@eth0.json"), "utf8"))
        yield* io(() => Fs.writeFile(Path.join(dir, "elsewhere@eth0.json"), copied))
        yield* io(() => Fs.writeFile(Path.join(dir, ".tmp-0123456789abcdef"), "{ half writ"))
        yield* io(() => Fs.writeFile(Path.join(dir, "notes.txt"), "not a record"))

        const listed = yield* store.list("pods").pipe(Effect.provide(Logger.layer([capture])))
        assert.deepStrictEqual(listed, [record("good")])
        assert.strictEqual(warnings.length, 3, warnings.join("\n"))
        assert.isTrue(warnings.some((w) => w.includes("bad@eth0.json") && w.includes("not JSON")))
        assert.isTrue(warnings.some((w) => w.includes("badip@eth0.json") && w.includes("300.1.1.1")))
        assert.isTrue(warnings.some((w) => w.includes("elsewhere@eth0.json")))
        assert.isTrue(warnings.every((w) => w.includes("moved corrupt attachment record")))

        // moved aside: never read as records again, but reported with what can still be read of them
        assert.strictEqual(yield* store.get(key("bad")), undefined)
        const names = yield* io(() => Fs.readdir(dir))
        assert.isFalse(names.includes("bad@eth0.json"))
        const quarantined = yield* store.quarantined("pods")
        assert.strictEqual(quarantined.length, 3)
        const elsewhere = quarantined.find((q) => q.name.startsWith(".corrupt.elsewhere@eth0.json."))
        assert.isDefined(elsewhere)
        assert.deepStrictEqual(elsewhere!.addresses.map(formatIp), ["100.64.0.5", "fd00::5", "100.64.0.6"])
        assert.include(
          quarantined.find((q) => q.name.startsWith(".corrupt.bad@eth0.json."))!.reason,
          "not JSON"
        )
      })
  )

  it.effect("get - a corrupt record is moved aside and reads as absent (DEL of its owner succeeds)", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      yield* store.put(record("good"))
      const file = Path.join(dataDir, "pods", "good@eth0.json")
      const text = yield* io(() => Fs.readFile(file, "utf8"))
      yield* io(() => Fs.writeFile(file, text.slice(0, text.length - 20)))
      assert.strictEqual(yield* store.get(key("good")), undefined)
      const quarantined = yield* store.quarantined("pods")
      assert.strictEqual(quarantined.length, 1)
      assert.deepStrictEqual(quarantined[0]!.addresses.map(formatIp), ["100.64.0.5", "fd00::5"])
      assert.deepStrictEqual(yield* store.list("pods"), [])
    })
  )

  it.effect("records carry this boot's id and when they were written", () =>
    Effect.gen(function* () {
      const { store } = yield* withStore
      const boot = yield* store.boot
      assert.match(boot, /^[0-9a-f-]{36}$|^unknown$/)
      yield* store.put({ ...record("good"), boot, writtenAt: 1234 })
      const back = yield* store.get(key("good"))
      assert.strictEqual(back?.boot, boot)
      assert.strictEqual(back?.writtenAt, 1234)
    })
  )

  it.effect("list removes temporary files a killed writer left (older than a minute), keeps fresh ones", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      yield* store.put(record("good"))
      const dir = Path.join(dataDir, "pods")
      const stale = Path.join(dir, ".tmp-00000000000000aa")
      const fresh = Path.join(dir, ".tmp-00000000000000bb")
      yield* io(() => Fs.writeFile(stale, "{ half writ"))
      yield* io(() => Fs.writeFile(fresh, "{ being writ"))
      const twoMinutesAgo = new Date(Date.now() - 120_000)
      yield* io(() => Fs.utimes(stale, twoMinutesAgo, twoMinutesAgo))
      assert.deepStrictEqual(yield* store.list("pods"), [record("good")])
      const left = yield* io(() => Fs.readdir(dir))
      assert.deepStrictEqual(left.sort(), [".tmp-00000000000000bb", "good@eth0.json"])
    })
  )

  it.effect(
    "get, list and quarantined read the files again on every call: a same-length rewrite in place, same mtime, is seen",
    () =>
      Effect.gen(function* () {
        // what a cache keyed by inode, size or mtime would miss: another process rewrote the
        // file within the mtime's granularity, with the same length, on the same inode
        const { dataDir, store } = yield* withStore
        const dir = Path.join(dataDir, "pods")
        const held = { ...record("c1"), addresses: [at("100.64.0.5")], pending: [] }
        yield* store.put(held)
        const file = Path.join(dir, "c1@eth0.json")
        // a whole second, so the same mtime can be set again exactly
        const second = Math.floor(Date.now() / 1000)
        yield* io(() => Fs.utimes(file, second, second))
        const before = yield* io(() => Fs.stat(file))
        assert.deepStrictEqual(yield* store.get(key("c1")), held)
        assert.deepStrictEqual(yield* store.list("pods"), [held])
        const rewrite = (from: string, to: string) =>
          io(async () => {
            const text = await Fs.readFile(file, "utf8")
            assert.include(text, from)
            const handle = await Fs.open(file, "r+")
            await handle.write(text.replace(from, to), 0, "utf8")
            await handle.close()
            await Fs.utimes(file, second, second)
          })
        yield* rewrite('"100.64.0.5"', '"100.64.0.7"')
        const after = yield* io(() => Fs.stat(file))
        assert.deepStrictEqual(
          [after.ino, after.size, after.mtimeMs],
          [before.ino, before.size, before.mtimeMs]
        )
        const moved = { ...held, addresses: [at("100.64.0.7")] }
        assert.deepStrictEqual(yield* store.get(key("c1")), moved)
        assert.deepStrictEqual(yield* store.list("pods"), [moved])

        // a corrupt record (moved aside by list): what can be read of it is read again too
        yield* rewrite('"addresses"', '"addresseZ"')
        assert.deepStrictEqual(yield* store.list("pods"), [])
        const [corrupt] = yield* io(() => Fs.readdir(dir))
        assert.match(corrupt ?? "", /^\.corrupt\.c1@eth0\.json\.\d+$/)
        assert.deepStrictEqual(
          (yield* store.quarantined("pods")).map((q) => q.addresses.map(formatIp)),
          [["100.64.0.7"]]
        )
        const quarantinedFile = Path.join(dir, corrupt ?? "")
        const text = yield* io(() => Fs.readFile(quarantinedFile, "utf8"))
        yield* io(() => Fs.writeFile(quarantinedFile, text.replace('"100.64.0.7"', '"100.64.0.9"')))
        assert.deepStrictEqual(
          (yield* store.quarantined("pods")).map((q) => q.addresses.map(formatIp)),
          [["100.64.0.9"]]
        )
      })
  )

  it.effect("quarantined - nothing in a network without a directory or without corrupt records", () =>
    Effect.gen(function* () {
      const { store } = yield* withStore
      assert.deepStrictEqual(yield* store.quarantined("pods"), [])
      yield* store.put(record("c1"))
      assert.deepStrictEqual(yield* store.quarantined("pods"), [])
    })
  )

  it.effect("list - a stale temporary name it cannot remove (a directory) is left and never fails list", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      yield* store.put(record("good"))
      const dir = Path.join(dataDir, "pods")
      const odd = Path.join(dir, ".tmp-00000000000000cc")
      yield* io(() => Fs.mkdir(Path.join(odd, "inside"), { recursive: true }))
      const twoMinutesAgo = new Date(Date.now() - 120_000)
      yield* io(() => Fs.utimes(odd, twoMinutesAgo, twoMinutesAgo))
      assert.deepStrictEqual(yield* store.list("pods"), [record("good")])
      assert.deepStrictEqual(yield* tree(dir), [
        ".tmp-00000000000000cc",
        ".tmp-00000000000000cc/inside",
        "good@eth0.json"
      ])
    })
  )

  it.effect("remove - idempotent; removes only its own record", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      yield* store.remove(key("never"))
      yield* store.put(record("c1"))
      yield* store.put(record("c1", "net1"))
      yield* store.remove(key("c1"))
      yield* store.remove(key("c1"))
      assert.isUndefined(yield* store.get(key("c1")))
      assert.isDefined(yield* store.get(key("c1", "net1")))
      assert.deepStrictEqual(yield* tree(dataDir), ["pods", "pods/c1@net1.json"])
    })
  )

  it.effect("path traversal and invalid identifiers are refused before any path is built", () =>
    Effect.gen(function* () {
      const { base, store } = yield* withStore
      const attempts: ReadonlyArray<readonly [string, Attachment]> = [
        ["network", record("c1", "eth0", "../x")],
        ["network", record("c1", "eth0", "..")],
        ["network", record("c1", "eth0", "a/b")],
        ["network", record("c1", "eth0", "")],
        ["network", record("c1", "eth0", "/tmp")],
        ["containerId", record("../x")],
        ["containerId", record("a/b")],
        ["containerId", record("")],
        ["containerId", record("x\0y")],
        ["containerId", record(".hidden")],
        ["containerId", record("a@b")],
        ["ifname", record("c1", "..")],
        ["ifname", record("c1", "../../x")],
        ["ifname", record("c1", "a/b")],
        ["ifname", record("c1", "")],
        ["ifname", record("c1", "e\0")]
      ]
      for (const [field, attachment] of attempts) {
        for (const operation of ["put", "get", "remove"] as const) {
          const run =
            operation === "put"
              ? store.put(attachment)
              : operation === "get"
                ? store.get(attachment)
                : store.remove(attachment)
          const error = yield* Effect.flip(run)
          assert.strictEqual(
            error.operation,
            operation,
            `${operation} ${JSON.stringify([attachment.network, attachment.containerId, attachment.ifname])}`
          )
          assert.isTrue(error.message.startsWith(`${field}: `), error.message)
        }
      }
      for (const network of ["../x", "..", "a/b", ""]) {
        const error = yield* Effect.flip(store.list(network))
        assert.isTrue(error.message.startsWith("network: "), error.message)
      }
      // nothing was created, not even the data directory
      assert.deepStrictEqual(yield* tree(base), [])
    })
  )

  it.effect("a container ID too long for a file name fails with AttachmentsError", () =>
    Effect.gen(function* () {
      const { store } = yield* withStore
      const fits = "c".repeat(255 - "@eth0.json".length)
      yield* store.put(record(fits))
      assert.isDefined(yield* store.get(key(fits)))
      const error = yield* Effect.flip(store.put(record(`${fits}c`)))
      assert.isTrue(error.message.startsWith("containerId: "), error.message)
    })
  )

  it.effect("layer - provides the store on the given directory", () =>
    Effect.gen(function* () {
      const { dataDir, store } = yield* withStore
      yield* store.put(record("c1"))
      const listed = yield* Attachments.use((s) => s.list("pods")).pipe(
        Effect.provide(FileAttachments.layer(dataDir))
      )
      assert.deepStrictEqual(listed, [record("c1")])
    })
  )
})
