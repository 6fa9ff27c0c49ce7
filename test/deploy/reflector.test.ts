// Route reflectors (render.ts `reflector`): a node joins by peering with the reflector only; claims and conflicts still reach every node (BIRD 2.0.12).
import type { ChildProcess } from "node:child_process"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type BirdConfigOptions, renderBirdConfig } from "../../deploy/bird/render.ts"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, hasCommand, isRoot, privileged } from "../support/Privileges.ts"

const base = { podPrefixes4: ["100.64.0.0/16"], fastTimers: true, holdTime: 3 } as const
const reflectorOf = (n: number, peers: ReadonlyArray<string> = []): BirdConfigOptions => ({
  ...base,
  routerId: `198.18.0.${n}`,
  localAddress: `198.18.0.${n}`,
  peers,
  reflector: { clientRange: "198.18.0.0/24", clusterId: "198.18.0.1" }
})
const clientOf = (n: number): BirdConfigOptions => ({
  ...base,
  routerId: `198.18.0.${n}`,
  localAddress: `198.18.0.${n}`,
  peers: ["198.18.0.1"]
})

describe("renderBirdConfig with a reflector", () => {
  it("accepts any node of the range as a client (dynamic BGP), reflects BGP routes, and bird -p accepts it", () => {
    const text = renderBirdConfig({
      ...reflectorOf(1, ["198.18.0.250"]),
      podPrefixes6: ["fd00:64::/48"],
      localAddress6: "fd00:198::1"
    })
    assert.include(text, "neighbor range 198.18.0.0/24 as 64512;")
    assert.include(text, "rr client;")
    assert.include(text, "rr cluster id 198.18.0.1;")
    assert.include(text, "export where (source = RTS_INHERIT || source = RTS_BGP) && net ~ POD_HOSTS6;")
    assert.include(text, "neighbor 198.18.0.250 as 64512;", "the other reflector: a plain peer")
    if (!hasCommand("bird")) return
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-rr-"))
    try {
      fs.writeFileSync(path.join(dir, "bird.conf"), text)
      assert.strictEqual(spawnSync("bird", ["-p", "-c", path.join(dir, "bird.conf")]).status, 0)
      fs.writeFileSync(
        path.join(dir, "bird.conf"),
        text.replace("rr cluster id 198.18.0.1;", "rr cluster id x;")
      )
      assert.notStrictEqual(spawnSync("bird", ["-p", "-c", path.join(dir, "bird.conf")]).status, 0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses a client range or cluster id that is not IPv4", () => {
    assert.throws(
      () =>
        renderBirdConfig({ ...reflectorOf(1), reflector: { clientRange: "fd00::/8", clusterId: "1.1.1.1" } }),
      /client range/
    )
    assert.throws(
      () =>
        renderBirdConfig({ ...reflectorOf(1), reflector: { clientRange: "198.18.0.0/24", clusterId: "x" } }),
      /cluster id/
    )
  })
})

privileged("needs root, unshare and Debian's bird2", isRoot() && canUnshareNet() && hasCommand("bird"))(
  "a reflector and clients that know only the reflector (private namespaces)",
  () => {
    let root = ""
    let fabric: Netns | undefined
    const nodes = new Map<number, Netns>()
    const birds: Array<ChildProcess> = []

    const startNode = async (n: number, options: BirdConfigOptions): Promise<Netns> => {
      if (fabric === undefined) throw new Error("no fabric")
      const node = await fabric.createChild()
      await fabric.run("ip", [
        "link",
        "add",
        `v${n}`,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        node.path
      ])
      await fabric.run("ip", ["link", "set", `v${n}`, "master", "br0", "up"])
      await node.run("ip", ["addr", "add", `198.18.0.${n}/24`, "dev", "eth0"])
      await node.run("ip", ["link", "set", "eth0", "up"])
      const config = path.join(root, `n${n}.conf`)
      fs.writeFileSync(config, renderBirdConfig({ ...options, logFile: path.join(root, `n${n}.log`) }))
      birds.push(node.spawn("bird", ["-f", "-c", config, "-s", path.join(root, `n${n}.ctl`)]))
      nodes.set(n, node)
      return node
    }
    const claim = (n: number, address: string) =>
      nodes
        .get(n)
        ?.run("ip", ["route", "add", `${address}/32`, "dev", "eth0", "proto", "192", "metric", "4096"])
    /** The next hops node `n` learned (proto bird) for `address`, waiting up to 15 s for `count` of them. */
    const learned = async (n: number, address: string, count = 1): Promise<ReadonlyArray<string>> => {
      let hops: Array<string> = []
      for (let i = 0; i < 75; i++) {
        const text =
          (await nodes.get(n)?.run("ip", ["route", "show", `${address}/32`, "proto", "bird"])) ?? ""
        hops = [...text.matchAll(/via (\S+)/g)].map((m) => m[1] ?? "")
        if (hops.length >= count) return hops.sort()
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      return hops.sort()
    }

    beforeAll(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-rr-lab-"))
      fabric = await Netns.create()
      await fabric.run("ip", ["link", "add", "br0", "type", "bridge"])
      await fabric.run("ip", ["link", "set", "br0", "up"])
      await startNode(1, reflectorOf(1))
      await startNode(2, clientOf(2))
      await startNode(3, clientOf(3))
    }, 30_000)

    afterAll(async () => {
      for (const bird of birds) {
        if (bird.exitCode !== null || bird.signalCode !== null) continue
        const exited = new Promise((resolve) => bird.once("exit", resolve))
        bird.kill("SIGKILL")
        await exited
      }
      await fabric?.close()
      if (root !== "") fs.rmSync(root, { recursive: true, force: true })
    })

    it("a client's claim reaches the other client through the reflector, next hop the claimant", async () => {
      await claim(2, "100.64.2.2")
      assert.deepStrictEqual(await learned(3, "100.64.2.2"), ["198.18.0.2"])
      assert.deepStrictEqual(await learned(1, "100.64.2.2"), ["198.18.0.2"])
    }, 20_000)

    it("two clients claiming one address both see the other's claim (ADD-PATH through the reflector)", async () => {
      await claim(2, "100.64.9.9")
      await claim(3, "100.64.9.9")
      assert.deepStrictEqual(await learned(2, "100.64.9.9"), ["198.18.0.3"])
      assert.deepStrictEqual(await learned(3, "100.64.9.9"), ["198.18.0.2"])
    }, 20_000)

    it("a node joins with no edit elsewhere: its claim reaches the others, and it learns theirs", async () => {
      await startNode(4, clientOf(4))
      await claim(4, "100.64.4.4")
      assert.deepStrictEqual(await learned(2, "100.64.4.4"), ["198.18.0.4"])
      assert.deepStrictEqual(await learned(4, "100.64.2.2"), ["198.18.0.2"])
    }, 20_000)
  }
)
