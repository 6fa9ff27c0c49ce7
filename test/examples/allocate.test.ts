// examples/allocate.ts: in process on memory, as a child process, and against the kernel in a private namespace.
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { allocateAndRelease, makeNetwork } from "../../examples/allocate.ts"
import * as MemoryAttachments from "../../src/adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import { formatIp, type Ip, ip } from "../../src/domain/Ip.ts"
import { InvalidPool } from "../../src/domain/Pool.ts"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, privileged } from "../support/Privileges.ts"

const projectRoot = path.resolve(import.meta.dirname, "../..")
const node = path.join(projectRoot, "node_modules/.bin/node")
const example = path.join(projectRoot, "examples/allocate.ts")

/** 100.64.0.<n> */
const pod = (n: number): Ip => ip(4, 0x64400000n + BigInt(n))

/** The "owner: address" lines of the example's output. */
const assignments = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout
      .split("\n")
      .map((line) => /^(web-\d\/eth0): (\S+)$/.exec(line))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!])
  )

describe("examples/allocate.ts", () => {
  it.live(
    "allocateAndRelease on memory: takes the only two free addresses, then leaves the table as it was",
    () =>
      Effect.gen(function* () {
        // a /29 has 6 hosts; routes of someone else hold .1-.4, so the two containers must get .5 and .6
        const network = makeNetwork("100.64.0.0/29")
        if (network instanceof InvalidPool) return assert.fail(network.message)
        const control = yield* MemoryRouteTable.MemoryRouteTableControl
        for (const n of [1, 2, 3, 4]) yield* control.addOther({ host: pod(n), nextHop: ip(4, 0xc6120002n) })
        const report = yield* allocateAndRelease(network)
        const given = report.attached.flatMap((a) => a.addresses).sort()
        assert.deepStrictEqual(given, ["100.64.0.5/29", "100.64.0.6/29"])
        assert.deepStrictEqual(report.routesWhileAttached, [
          "100.64.0.5/32 proto 192 metric 4096",
          "100.64.0.6/32 proto 192 metric 4096"
        ])
        assert.deepStrictEqual(report.routesAfterDetach, [])
        const left = (yield* control.snapshot).map((r) => `${formatIp(r.host)} ${r.origin}`)
        assert.deepStrictEqual(left, [
          "100.64.0.1 other",
          "100.64.0.2 other",
          "100.64.0.3 other",
          "100.64.0.4 other"
        ])
      }).pipe(Effect.provide(Layer.mergeAll(MemoryRouteTable.layerWithControl(), MemoryAttachments.layer)))
  )

  it("node examples/allocate.ts: two different addresses of 100.64.0.0/24, all released", () => {
    const run = spawnSync(node, [example], { encoding: "utf8", timeout: 30_000 })
    assert.strictEqual(run.status, 0, run.stderr)
    const given = assignments(run.stdout)
    assert.deepStrictEqual(Object.keys(given).sort(), ["web-1/eth0", "web-2/eth0"])
    assert.notStrictEqual(given["web-1/eth0"], given["web-2/eth0"])
    for (const address of Object.values(given)) assert.match(address, /^100\.64\.0\.\d{1,3}\/24$/)
    assert.include(run.stdout, "mode: memory\n")
    assert.include(run.stdout, "routes after detach: 0\n")
  })

  it("refuses an unknown mode and a bad subnet with exit code 2", () => {
    const mode = spawnSync(node, [example, "etcd"], { encoding: "utf8", timeout: 30_000 })
    assert.strictEqual(mode.status, 2)
    assert.include(mode.stderr, "unknown mode")
    const subnet = spawnSync(node, [example, "--subnet", "100.64.0.0/33"], {
      encoding: "utf8",
      timeout: 30_000
    })
    assert.strictEqual(subnet.status, 2)
    assert.include(subnet.stderr, "--subnet")
  })
})

privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())(
  "examples/allocate.ts netlink (in a private namespace)",
  () => {
    it("claims the two free addresses as kernel host routes and removes exactly those", async () => {
      const ns = await Netns.create()
      try {
        // someone else's routes (proto static) hold .1-.4 of the /29: only the kernel knows that
        const seeded = [1, 2, 3, 4].map((n) => `ip route add 100.64.0.${n}/32 dev lo proto static`)
        await ns.run("sh", ["-c", seeded.join(" && ")])
        const run = await ns.exec(node, [example, "netlink", "--subnet", "100.64.0.0/29"], {
          timeoutMs: 30_000
        })
        assert.strictEqual(run.code, 0, run.stderr)
        assert.include(run.stdout, "mode: netlink\n")
        assert.deepStrictEqual(Object.values(assignments(run.stdout)).sort(), [
          "100.64.0.5/29",
          "100.64.0.6/29"
        ])
        assert.include(run.stdout, "route: 100.64.0.5/32 proto 192 metric 4096\n")
        assert.include(run.stdout, "route: 100.64.0.6/32 proto 192 metric 4096\n")
        assert.include(run.stdout, "routes after detach: 0\n")
        assert.strictEqual((await ns.run("ip", ["route", "show", "table", "all", "proto", "192"])).trim(), "")
        const others = await ns.run("ip", ["-4", "route", "show", "proto", "static"])
        assert.strictEqual(others.trim().split("\n").length, 4, others)
      } finally {
        await ns.close()
      }
    })

    it("refuses to run in the namespace named as the host's (RTIPAM_NETNS_INITIAL)", async () => {
      const ns = await Netns.create()
      try {
        // the guard is exercised inside a private namespace, so a broken guard still harms nothing
        const script = 'RTIPAM_NETNS_INITIAL="$(readlink /proc/self/ns/net)" exec "$@"'
        const run = await ns.exec("sh", ["-c", script, "sh", node, example, "netlink"])
        assert.strictEqual(run.code, 2, run.stdout)
        assert.include(run.stderr, "is the host's network namespace")
        assert.strictEqual((await ns.run("ip", ["route", "show", "table", "all", "proto", "192"])).trim(), "")
      } finally {
        await ns.close()
      }
    })
  }
)
