// The file store's write path (issue 12 items 5 and 8): directories made without spinning, no temp files or empty directories left.
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as FileAttachments from "../../src/adapters/FileAttachments.ts"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import * as NoFabricHealth from "../../src/adapters/NoFabricHealth.ts"
import { type MemoryNode, PluginAdapters } from "../../src/app/plugin/PluginAdapters.ts"
import type { Attachment } from "../../src/domain/Attachments.ts"
import { type Ip, parseIp } from "../../src/domain/Ip.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"
import { baseEnv, invoke, netConf } from "../app/plugin/CniHarness.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))

const record = (containerId: string, network = "pods"): Attachment => ({
  network,
  containerId,
  ifname: "eth0",
  addresses: [at("100.64.0.5")],
  pending: []
})
const key = (containerId: string, network = "pods") => ({ network, containerId, ifname: "eth0" })

const io = <A>(f: () => Promise<A>) => Effect.promise(f)

const withBase = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routetable-ipam-write-path-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

const tree = (dir: string) =>
  io(async () => ((await Fs.readdir(dir, { recursive: true })) as Array<string>).sort())

/** A PID that is certainly not running: a child that has exited (its PID is free until reused). */
const deadPid = (): number => {
  const child = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" })
  return Number(child.stdout.trim())
}

describe("FileAttachments write path", () => {
  it.effect("a data directory under /proc fails at once (Node's recursive mkdir spins there)", () =>
    Effect.gen(function* () {
      const store = FileAttachments.make(`/proc/${process.pid}/no/such/dir`)
      const error = yield* store.put(record("c1")).pipe(Effect.timeout("5 seconds"), Effect.flip)
      assert.strictEqual(error._tag, "AttachmentsError", String(error))
      assert.include(String((error as { message?: string }).message), "ENOENT")
    })
  )

  it.effect("a file where a directory is expected: ENOTDIR, nothing created", () =>
    Effect.gen(function* () {
      const base = yield* withBase
      yield* io(() => Fs.writeFile(Path.join(base, "file"), "x"))
      const store = FileAttachments.make(Path.join(base, "file", "data"))
      const error = yield* Effect.flip(store.put(record("c1")))
      assert.include(error.message, "ENOTDIR")
      assert.deepStrictEqual(yield* tree(base), ["file"])
    })
  )

  it.effect("put and remove delete the temp files a killed writer of the same record left", () =>
    Effect.gen(function* () {
      const base = yield* withBase
      const store = FileAttachments.make(base)
      const dir = Path.join(base, "pods")
      yield* store.put(record("other"))
      const leftover = (id: string, pid: number) =>
        `${FileAttachments.temporaryPrefixOf(FileAttachments.fileNameOf(key(id)))}${pid}-00112233`
      const dead = deadPid()
      const files = [leftover("c1", dead), leftover("c2", dead), leftover("c1", process.pid)]
      for (const name of files) yield* io(() => Fs.writeFile(Path.join(dir, name), "{"))
      yield* store.put(record("c1"))
      // c1's dead writer's file is gone; c2's stays until c2 is written or removed; a live writer's stays
      assert.deepStrictEqual(
        yield* tree(dir),
        [leftover("c1", process.pid), leftover("c2", dead), "c1@eth0.json", "other@eth0.json"].sort()
      )
      yield* store.remove(key("c2"))
      assert.deepStrictEqual(
        yield* tree(dir),
        [leftover("c1", process.pid), "c1@eth0.json", "other@eth0.json"].sort()
      )
    })
  )

  it.effect("removing the last record removes the network directory; others keep it", () =>
    Effect.gen(function* () {
      const base = yield* withBase
      const store = FileAttachments.make(base)
      yield* store.put(record("c1"))
      yield* store.put(record("c2"))
      yield* store.put(record("c3", "other"))
      yield* store.remove(key("c1"))
      assert.deepStrictEqual(yield* tree(base), ["other", "other/c3@eth0.json", "pods", "pods/c2@eth0.json"])
      yield* store.remove(key("c2"))
      yield* store.remove(key("c2"))
      assert.deepStrictEqual(yield* tree(base), ["other", "other/c3@eth0.json"])
      yield* store.put(record("c2"))
      assert.deepStrictEqual((yield* store.get(key("c2")))?.containerId, "c2")
    })
  )

  it.effect("puts racing removals of the last record of a network all land", () =>
    Effect.gen(function* () {
      const base = yield* withBase
      const store = FileAttachments.make(base)
      yield* Effect.all(
        Array.from({ length: 40 }, (_, i) =>
          i % 2 === 0 ? store.put(record(`c${i}`)) : store.remove(key(`c${i - 1}`))
        ),
        { concurrency: "unbounded" }
      )
      // every put either survived or was removed by its partner: nothing else is left
      for (const name of yield* tree(base)) assert.match(name, /^pods(\/c\d+@eth0\.json)?$/)
    })
  )

  it.live("a failed ADD through the CNI core leaves no record and no network directory", () =>
    Effect.gen(function* () {
      const base = yield* withBase
      const memory = yield* MemoryRouteTable.make()
      yield* memory.addOther({ host: at("100.64.0.7"), nextHop: at("198.18.0.2") })
      const adapters = PluginAdapters.of({
        layerFor: () =>
          Layer.mergeAll(
            Layer.succeed(RouteTable, memory.table),
            FileAttachments.layer(base),
            NoFabricHealth.layer
          )
      })
      // the harness reads only `adapters` of a node; real files and the real clock (a 50 ms wait)
      const node = { adapters } as unknown as MemoryNode
      const conf = netConf("1.0.0", {}, { runtimeConfig: { ips: ["100.64.0.7"] } })
      const taken = yield* invoke(node, baseEnv("ADD"), conf)
      assert.strictEqual(taken.status, 101, taken.stdout)
      assert.deepStrictEqual(yield* tree(base), [])
      const ok = yield* invoke(node, baseEnv("ADD"), netConf("1.0.0"))
      assert.strictEqual(ok.status, 0, ok.stdout)
      assert.deepStrictEqual(yield* tree(base), ["pods", "pods/c1@eth0.json"])
    })
  )
})
