// Attachment lifecycles on memory adapters: ADD (dual stack), DEL, CHECK, GC, STATUS and crash leftovers.
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
import * as MemoryAttachments from "../../src/adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import { attach, checkAttachment, detach, poolStatus } from "../../src/domain/Attach.ts"
import { collectGarbage } from "../../src/domain/Collection.ts"
import { Attachments } from "../../src/domain/Attachments.ts"
import { defaultClaimPolicy } from "../../src/domain/ClaimPolicy.ts"
import { formatIp, type Ip, parseIp } from "../../src/domain/Ip.ts"
import type { Network } from "../../src/domain/Network.ts"
import { InvalidPool, makePool, type Pool } from "../../src/domain/Pool.ts"

const addr = (s: string): Ip => {
  const p = parseIp(s)
  if (p._tag === "None") throw new Error(s)
  return p.value
}
const pool = (subnet: string, gateway?: string): Pool => {
  const p = makePool("r", [{ subnet, ...(gateway ? { gateway } : {}) }])
  if (p instanceof InvalidPool) throw new Error(p.message)
  return p
}
const network = (...pools: Array<Pool>): Network => ({
  name: "pods",
  pools,
  policy: { ...defaultClaimPolicy, propagationTimeout: Duration.millis(100) }
})
const dual = network(pool("100.64.0.0/24", "100.64.0.1"), pool("fd00:64::/120"))
const owner = { containerId: "c1", ifname: "eth0" }
const adapters = Layer.mergeAll(
  MemoryRouteTable.layerWithControl({ nodeAddress: [addr("198.18.0.1"), addr("fd00:198:18::1")] }),
  MemoryAttachments.layer
)
const Control = MemoryRouteTable.MemoryRouteTableControl

const run = <A, E, R>(effect: Effect.Effect<A, E, R>, ms = 10_000) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(Duration.millis(ms))
    return yield* Fiber.await(fiber)
  })
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
const oursNow = Effect.flatMap(Control, (c) => c.snapshot).pipe(
  Effect.map((rs) => rs.filter((r) => r.origin === "ours").map((r) => formatIp(r.host)))
)
const recordsNow = Effect.flatMap(Attachments, (s) => s.list("pods"))

describe("Attach", () => {
  it.effect(
    "attach: one address per pool, recorded; detach releases both and forgets; detach again is fine",
    () =>
      Effect.gen(function* () {
        const exit = yield* run(attach(dual, owner, [addr("fd00:64::42")]))
        assert.isTrue(Exit.isSuccess(exit))
        const assigned = Exit.isSuccess(exit) ? exit.value : []
        assert.strictEqual(assigned.length, 2)
        assert.strictEqual(assigned[0]!.address.family, 4)
        assert.strictEqual(formatIp(assigned[1]!.address), "fd00:64::42")
        assert.strictEqual(formatIp(assigned[0]!.range.gateway!), "100.64.0.1")
        assert.strictEqual((yield* oursNow).length, 2)
        const records = yield* recordsNow
        assert.strictEqual(records.length, 1)
        assert.deepStrictEqual(records[0]!.pending, [])
        yield* detach(dual, owner, [])
        assert.deepStrictEqual(yield* oursNow, [])
        assert.deepStrictEqual(yield* recordsNow, [])
        yield* detach(dual, owner, [])
      }).pipe(Effect.provide(adapters))
  )

  it.effect("dual stack costs one W, not two: both pools are claimed at once", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(attach(dual, owner, []))
      yield* TestClock.adjust(Duration.millis(100))
      const exit = fiber.pollUnsafe()
      assert.isTrue(exit !== undefined && Exit.isSuccess(exit))
    }).pipe(Effect.provide(adapters))
  )

  it.effect("attach again for the same owner returns the same addresses", () =>
    Effect.gen(function* () {
      const first = yield* run(attach(dual, owner, []))
      const second = yield* run(attach(dual, owner, []))
      assert.deepStrictEqual(
        Exit.map(first, (a) => a.map((x) => formatIp(x.address))),
        Exit.map(second, (a) => a.map((x) => formatIp(x.address)))
      )
      assert.strictEqual((yield* oursNow).length, 2)
    }).pipe(Effect.provide(adapters))
  )

  it.effect("a failure in the second pool releases the first and leaves no record", () =>
    Effect.gen(function* () {
      const control = yield* Control
      yield* control.addOther({ host: addr("fd00:64::42"), nextHop: addr("fd00:198:18::9") })
      const exit = yield* run(attach(dual, owner, [addr("fd00:64::42")]))
      assert.strictEqual(failureOf(exit)?._tag, "AddressTaken")
      assert.deepStrictEqual(yield* oursNow, [])
      assert.deepStrictEqual(yield* recordsNow, [])
    }).pipe(Effect.provide(adapters))
  )

  it.effect("a requested address in no pool is refused before anything is claimed", () =>
    Effect.gen(function* () {
      const exit = yield* run(attach(dual, owner, [addr("100.99.0.5")]))
      assert.strictEqual(failureOf(exit)?._tag, "AddressOutsidePool")
      assert.deepStrictEqual(yield* recordsNow, [])
    }).pipe(Effect.provide(adapters))
  )

  it.effect("detach without a record releases nothing: an unexplained route is GC's (invariant 3)", () =>
    Effect.gen(function* () {
      const v4 = network(pool("100.64.0.0/24"))
      const exit = yield* run(attach(v4, { containerId: "other", ifname: "eth0" }, [addr("100.64.0.9")]))
      assert.isTrue(Exit.isSuccess(exit))
      const control = yield* Control
      yield* control.addOther({ host: addr("100.64.0.10"), protocol: 192 }) // a leftover of ours, unowned
      yield* detach(v4, owner, [addr("100.64.0.9"), addr("100.64.0.10")])
      assert.deepStrictEqual(yield* oursNow, ["100.64.0.9", "100.64.0.10"])
      const report = yield* collectGarbage(v4, { graceMillis: 0 })
      assert.deepStrictEqual(report.releasedRoutes.map(formatIp), ["100.64.0.10"])
      assert.deepStrictEqual(yield* oursNow, ["100.64.0.9"])
    }).pipe(Effect.provide(adapters))
  )

  it.effect("check: known and alone passes; unknown owner, missing route and a competitor fail", () =>
    Effect.gen(function* () {
      const v4 = network(pool("100.64.0.0/24"))
      const exit = yield* run(attach(v4, owner, [addr("100.64.0.9")]))
      assert.isTrue(Exit.isSuccess(exit))
      yield* checkAttachment(v4, owner, [addr("100.64.0.9")])
      const unknown = yield* Effect.exit(checkAttachment(v4, { containerId: "nope", ifname: "eth0" }, []))
      assert.strictEqual(failureOf(unknown)?._tag, "AttachmentUnknown")
      const wrong = yield* Effect.exit(checkAttachment(v4, owner, [addr("100.64.0.8")]))
      assert.strictEqual(failureOf(wrong)?._tag, "AttachmentInvalid")
      const control = yield* Control
      yield* control.addOther({ host: addr("100.64.0.9"), nextHop: addr("198.18.0.5") })
      const contested = yield* Effect.exit(checkAttachment(v4, owner, [addr("100.64.0.9")]))
      const error = failureOf(contested)
      assert.match(error?._tag === "AttachmentInvalid" ? error.reason : "", /198\.18\.0\.5/)
      yield* control.remove(addr("100.64.0.9"))
      const missing = yield* Effect.exit(checkAttachment(v4, owner, [addr("100.64.0.9")]))
      const gone = failureOf(missing)
      assert.match(gone?._tag === "AttachmentInvalid" ? gone.reason : "", /missing/)
    }).pipe(Effect.provide(adapters))
  )

  it.effect("gc: releases owners not listed, leaked routes of ours in range, and nothing else", () =>
    Effect.gen(function* () {
      const v4 = network(pool("100.64.0.0/24"))
      const control = yield* Control
      // exact addresses: a random pick could otherwise land on the leaked route's address
      for (const [id, at] of [
        ["keep", "100.64.0.10"],
        ["drop", "100.64.0.11"]
      ] as const) {
        assert.isTrue(Exit.isSuccess(yield* run(attach(v4, { containerId: id, ifname: "eth0" }, [addr(at)]))))
      }
      yield* control.addOther({ host: addr("100.64.0.200"), protocol: 192 }) // leaked route of ours
      yield* control.addOther({ host: addr("100.64.0.201"), nextHop: addr("198.18.0.5") }) // a peer's
      yield* control.addOther({ host: addr("100.65.0.7"), protocol: 192 }) // ours, another network's range
      const kept = (yield* recordsNow).find((r) => r.containerId === "keep")!
      const report = yield* collectGarbage(v4, {
        valid: [{ containerId: "keep", ifname: "eth0" }],
        graceMillis: 0
      })
      assert.deepStrictEqual(
        report.releasedAttachments.map((r) => `${r.containerId}/${r.ifname}`),
        ["drop/eth0"]
      )
      assert.deepStrictEqual(report.releasedRoutes.map(formatIp), ["100.64.0.200"])
      assert.deepStrictEqual(report.errors, [])
      assert.deepStrictEqual((yield* oursNow).sort(), [formatIp(kept.addresses[0]!), "100.65.0.7"].sort())
      const all = yield* Effect.flatMap(Control, (c) => c.snapshot)
      assert.isTrue(all.some((r) => formatIp(r.host) === "100.64.0.201"))
    }).pipe(Effect.provide(adapters))
  )

  it.effect("a crash between the intent and the claim is cleaned by the next DEL and by GC", () =>
    Effect.gen(function* () {
      const v4 = network(pool("100.64.0.0/24"))
      const store = yield* Attachments
      const control = yield* Control
      // what a process killed right after its claim leaves: a pending record and our route
      yield* store.put({ network: "pods", ...owner, addresses: [], pending: [addr("100.64.0.33")] })
      yield* control.addOther({ host: addr("100.64.0.33"), protocol: 192 })
      yield* detach(v4, owner, [])
      assert.deepStrictEqual(yield* oursNow, [])
      assert.deepStrictEqual(yield* recordsNow, [])
      yield* store.put({ network: "pods", ...owner, addresses: [], pending: [addr("100.64.0.34")] })
      yield* control.addOther({ host: addr("100.64.0.34"), protocol: 192 })
      yield* collectGarbage(v4, { valid: [], graceMillis: 0 })
      assert.deepStrictEqual(yield* oursNow, [])
      assert.deepStrictEqual(yield* recordsNow, [])
    }).pipe(Effect.provide(adapters))
  )

  it.effect("status: a pool with a free address is fine; a full one is exhausted", () =>
    Effect.gen(function* () {
      const tiny = network(pool("100.64.0.0/30"))
      assert.deepStrictEqual(
        (yield* poolStatus(tiny)).map((s) => s.exhausted),
        [false]
      )
      for (const id of ["a", "b"]) {
        assert.isTrue(Exit.isSuccess(yield* run(attach(tiny, { containerId: id, ifname: "eth0" }, []))))
      }
      assert.deepStrictEqual(
        (yield* poolStatus(tiny)).map((s) => s.exhausted),
        [true]
      )
      const third = yield* run(attach(tiny, { containerId: "c", ifname: "eth0" }, []))
      assert.strictEqual(failureOf(third)?._tag, "PoolExhausted")
    }).pipe(Effect.provide(adapters))
  )

  it.effect(
    "per-address network (vxlan-cni): two ADDs of one owner hold both; each DEL releases the one it names",
    () =>
      Effect.gen(function* () {
        const legacy: Network = { ...network(pool("100.64.0.0/24")), perAddress: true }
        const vx = { containerId: "vx", ifname: "eth0" }
        const gateway = yield* run(attach(legacy, vx, [addr("100.64.0.1")]))
        assert.isTrue(Exit.isSuccess(gateway))
        const container = yield* run(attach(legacy, vx, []))
        assert.isTrue(Exit.isSuccess(container))
        const mine = Exit.isSuccess(container) ? formatIp(container.value[0]!.address) : ""
        assert.notStrictEqual(mine, "100.64.0.1")
        assert.sameMembers(yield* oursNow, ["100.64.0.1", mine], "the second ADD keeps the first address")
        // a repeated ADD of the gateway returns it without claiming anything
        const again = yield* run(attach(legacy, vx, [addr("100.64.0.1")]))
        assert.deepStrictEqual(
          Exit.map(again, (a) => a.map((x) => formatIp(x.address))),
          Exit.succeed(["100.64.0.1"])
        )
        assert.sameMembers(yield* oursNow, ["100.64.0.1", mine])
        yield* detach(legacy, vx, [addr(mine)])
        assert.deepStrictEqual(yield* oursNow, ["100.64.0.1"], "DEL releases exactly the address it names")
        assert.strictEqual((yield* recordsNow).length, 1)
        yield* detach(legacy, vx, [addr("100.64.0.1")])
        assert.deepStrictEqual(yield* oursNow, [])
        assert.deepStrictEqual(yield* recordsNow, [])
      }).pipe(Effect.provide(adapters))
  )

  it.effect(
    "the owner's pod is written into its record; a per-address DEL that keeps a record keeps the pod",
    () =>
      Effect.gen(function* () {
        const pod = { namespace: "shop", name: "cart-7d9f" }
        assert.isTrue(Exit.isSuccess(yield* run(attach(dual, { ...owner, pod }, []))))
        const [written] = yield* recordsNow
        assert.deepStrictEqual(written?.pod, pod)
        assert.strictEqual(written?.addresses.length, 2)
        // without a pod, no pod field (negative control)
        assert.isTrue(Exit.isSuccess(yield* run(attach(dual, { containerId: "c2", ifname: "eth0" }, []))))
        assert.notProperty(
          (yield* recordsNow).find((r) => r.containerId === "c2"),
          "pod"
        )
        const legacy: Network = { ...network(pool("100.64.0.0/24")), perAddress: true }
        const vx = { containerId: "vx", ifname: "eth0", pod: { name: "web" } }
        assert.isTrue(Exit.isSuccess(yield* run(attach(legacy, vx, [addr("100.64.0.1")]))))
        assert.isTrue(Exit.isSuccess(yield* run(attach(legacy, vx, [addr("100.64.0.2")]))))
        yield* detach(legacy, { containerId: "vx", ifname: "eth0" }, [addr("100.64.0.2")])
        const left = (yield* recordsNow).find((r) => r.containerId === "vx")
        assert.deepStrictEqual(left?.addresses.map(formatIp), ["100.64.0.1"])
        assert.deepStrictEqual(left?.pod, { name: "web" })
      }).pipe(Effect.provide(adapters))
  )

  it.effect("32 concurrent attachments on one node get 32 distinct addresses", () =>
    Effect.gen(function* () {
      const v4 = network(pool("100.64.0.0/26"))
      const exit = yield* run(
        Effect.forEach(
          Array.from({ length: 32 }, (_, i) => i),
          (i) => attach(v4, { containerId: `c${i}`, ifname: "eth0" }, []),
          { concurrency: "unbounded" }
        )
      )
      assert.isTrue(Exit.isSuccess(exit))
      const addresses = Exit.isSuccess(exit) ? exit.value.map((a) => formatIp(a[0]!.address)) : []
      assert.strictEqual(new Set(addresses).size, 32)
      assert.strictEqual((yield* oursNow).length, 32)
    }).pipe(Effect.provide(adapters))
  )
})
