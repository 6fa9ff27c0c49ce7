// Fabric health end to end: the built plugin asks a real BIRD; with the peer's BIRD stopped ADD gets 11, STATUS 51.
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import * as Lab from "../support/Lab.ts"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { assertPluginBuilt, nodeBinary, pluginFile } from "./support/BuiltPlugin.ts"
import { waitFabricHealthy } from "./support/FabricSettled.ts"

const available = isRoot() && hasCommand("bird") && hasCommand("birdc")

privileged("needs root and BIRD 2 (`apt-get install bird2`)", available)(
  "fabric health with a real BIRD",
  () => {
    let lab: Lab.Lab | undefined
    let dataDir = ""

    beforeAll(async () => {
      assertPluginBuilt()
      lab = await Lab.up({ nodes: 2, v6: false })
      await waitFabricHealthy([lab.nodes[0]!.birdSocket])
      dataDir = mkdtempSync(path.join(tmpdir(), "rtipam-health-"))
    }, 120_000)

    afterAll(async () => {
      await lab?.down()
      rmSync(dataDir, { recursive: true, force: true })
    }, 60_000)

    const conf = (cniVersion: string) => {
      const node = lab!.nodes[0]!
      return JSON.stringify({
        cniVersion,
        name: "pods",
        type: "routetable-ipam",
        ipam: {
          type: "routetable-ipam",
          ranges: [[{ subnet: "100.64.7.0/24" }]],
          device: "pods0",
          propagationTimeout: "100ms",
          dataDir,
          fabricHealth: { type: "bird", socket: node.birdSocket }
        }
      })
    }
    const run = (command: string, containerId: string, cniVersion = "1.1.0") => {
      const node = lab!.nodes[0]!
      return node.exec(nodeBinary, [pluginFile], {
        stdin: conf(cniVersion),
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: containerId,
          CNI_NETNS: `/var/run/netns/${node.netns}`,
          CNI_IFNAME: "eth0",
          CNI_PATH: path.dirname(pluginFile)
        },
        timeoutMs: 30_000
      })
    }
    const ourRoutes = async () =>
      (await lab!.nodes[0]!.routes(4, "100.64.7.0/24")).filter((r) => r.protocol === 192)
    const sessionsUp = async () =>
      (await lab!.nodes[0]!.sessions()).filter((s) => s.state === "up" && s.info.startsWith("Established"))
        .length

    it("healthy: STATUS 0 and ADD succeeds", async () => {
      const status = await run("STATUS", "probe")
      assert.strictEqual(status.code, 0, status.stdout + status.stderr)
      const add = await run("ADD", "c1")
      assert.strictEqual(add.code, 0, add.stdout + add.stderr)
      assert.strictEqual((await ourRoutes()).length, 1)
    })

    it("the peer's BIRD stopped: ADD fails with 11 and claims nothing, STATUS answers 51; restarted: ADD works", async () => {
      await lab!.stopBird(1)
      for (let i = 0; i < 100 && (await sessionsUp()) > 0; i++) await sleep(100)
      assert.strictEqual(await sessionsUp(), 0, "node 1 should see its only session go down")
      const before = await ourRoutes()
      const add = await run("ADD", "c2")
      assert.strictEqual(add.code, 11, add.stdout)
      const error = JSON.parse(add.stdout) as { code: number; msg: string }
      assert.strictEqual(error.code, 11)
      assert.match(error.msg, /fabric unhealthy: 0 of 1 BGP sessions established/)
      assert.deepStrictEqual(await ourRoutes(), before, "nothing claimed")
      assert.isFalse(
        readdirSync(path.join(dataDir, "pods")).some((f) => f.startsWith("c2@")),
        "nothing recorded"
      )
      const status = await run("STATUS", "probe")
      assert.strictEqual(status.code, 51, status.stdout)
      assert.strictEqual((JSON.parse(status.stdout) as { code: number }).code, 51)

      await lab!.startBird(1)
      await lab!.waitEstablished(30_000)
      await waitFabricHealthy([lab!.nodes[0]!.birdSocket])
      const again = await run("ADD", "c2")
      assert.strictEqual(again.code, 0, again.stdout + again.stderr)
      assert.strictEqual((await ourRoutes()).length, 2)
    }, 90_000)
  }
)
