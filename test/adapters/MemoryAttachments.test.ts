// Tests of the in-memory attachment store.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as MemoryAttachments from "../../src/adapters/MemoryAttachments.ts"
import { type Attachment, Attachments } from "../../src/domain/Attachments.ts"
import { type Ip, parseIp } from "../../src/domain/Ip.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))

const record = (containerId: string, ifname = "eth0", network = "pods"): Attachment => ({
  network,
  containerId,
  ifname,
  addresses: [at("100.64.0.5"), at("fd00::5")],
  pending: [at("100.64.0.6")]
})

describe("MemoryAttachments", () => {
  it.effect("put/get - round trip; put replaces", () =>
    Effect.gen(function* () {
      const store = yield* Attachments
      assert.isUndefined(yield* store.get({ network: "pods", containerId: "c1", ifname: "eth0" }))
      yield* store.put(record("c1"))
      assert.deepStrictEqual(
        yield* store.get({ network: "pods", containerId: "c1", ifname: "eth0" }),
        record("c1")
      )
      const confirmed = { ...record("c1"), pending: [] }
      yield* store.put(confirmed)
      assert.deepStrictEqual(
        yield* store.get({ network: "pods", containerId: "c1", ifname: "eth0" }),
        confirmed
      )
      assert.isUndefined(yield* store.get({ network: "pods", containerId: "c1", ifname: "eth1" }))
      assert.isUndefined(yield* store.get({ network: "other", containerId: "c1", ifname: "eth0" }))
    }).pipe(Effect.provide(MemoryAttachments.layer))
  )

  it.effect("the pod is kept (a copy: the caller's object can change without changing the store)", () =>
    Effect.gen(function* () {
      const store = yield* Attachments
      const pod = { namespace: "shop", name: "cart-7d9f" }
      yield* store.put({ ...record("c1"), pod })
      const got = yield* store.get({ network: "pods", containerId: "c1", ifname: "eth0" })
      assert.deepStrictEqual(got?.pod, { namespace: "shop", name: "cart-7d9f" })
      assert.notStrictEqual(got?.pod, pod)
      yield* store.put(record("c2"))
      assert.notProperty(yield* store.get({ network: "pods", containerId: "c2", ifname: "eth0" }), "pod")
    }).pipe(Effect.provide(MemoryAttachments.layer))
  )

  it.effect("list - the records of one network, sorted by container then interface", () =>
    Effect.gen(function* () {
      const store = yield* Attachments
      assert.deepStrictEqual(yield* store.list("pods"), [])
      yield* store.put(record("c2"))
      yield* store.put(record("c1", "net1"))
      yield* store.put(record("c1", "eth0"))
      yield* store.put(record("c3", "eth0", "other"))
      const listed = yield* store.list("pods")
      assert.deepStrictEqual(
        listed.map((a) => `${a.containerId}/${a.ifname}`),
        ["c1/eth0", "c1/net1", "c2/eth0"]
      )
      assert.strictEqual((yield* store.list("other")).length, 1)
    }).pipe(Effect.provide(MemoryAttachments.layer))
  )

  it.effect("remove - idempotent, and only the key given", () =>
    Effect.gen(function* () {
      const store = yield* Attachments
      yield* store.put(record("c1"))
      yield* store.put(record("c1", "net1"))
      yield* store.remove({ network: "pods", containerId: "c1", ifname: "eth0" })
      yield* store.remove({ network: "pods", containerId: "c1", ifname: "eth0" })
      yield* store.remove({ network: "pods", containerId: "never", ifname: "eth0" })
      assert.isUndefined(yield* store.get({ network: "pods", containerId: "c1", ifname: "eth0" }))
      assert.isDefined(yield* store.get({ network: "pods", containerId: "c1", ifname: "net1" }))
    }).pipe(Effect.provide(MemoryAttachments.layer))
  )

  it.effect("invalid keys fail like the file store: AttachmentsError naming the field", () =>
    Effect.gen(function* () {
      const store = yield* Attachments
      const put = yield* Effect.flip(store.put(record("../x")))
      assert.strictEqual(put._tag, "AttachmentsError")
      assert.strictEqual(put.operation, "put")
      assert.match(put.message, /^containerId: /)
      const get = yield* Effect.flip(store.get({ network: "pods", containerId: "c1", ifname: "a/b" }))
      assert.match(get.message, /^ifname: /)
      const list = yield* Effect.flip(store.list(".."))
      assert.match(list.message, /^network: /)
      assert.deepStrictEqual(yield* store.list("pods"), [])
    }).pipe(Effect.provide(MemoryAttachments.layer))
  )

  it.effect("layer - a fresh store per build", () =>
    Effect.gen(function* () {
      yield* Attachments.use((store) => store.put(record("c1"))).pipe(Effect.provide(MemoryAttachments.layer))
      const listed = yield* Attachments.use((store) => store.list("pods")).pipe(
        Effect.provide(MemoryAttachments.layer)
      )
      assert.deepStrictEqual(listed, [])
    })
  )
})
