// The mixed period over real BIRD: a node with the Go plugin's routes beside a node running ours, and migrate on the first while the second watches.
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import {
  type DataDirs,
  describeOutcome,
  invoke,
  makeDataDirs,
  networkConfig
} from "./cluster/ClusterPlugin.ts"
import { assertPluginBuilt, nodeBinary, pluginFile } from "./support/BuiltPlugin.ts"
import * as Lab from "../support/Lab.ts"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"

const available = isRoot() && hasCommand("bird") && hasCommand("birdc")
const suite = privileged("needs root and BIRD 2 (`apt-get install bird2`)", available)

const ipam = {
  ranges: [
    [{ subnet: "100.64.7.0/24", rangeStart: "100.64.7.5", rangeEnd: "100.64.7.6" }],
    [{ subnet: "fd00:100:0:7::/120" }]
  ],
  propagationTimeout: "100ms"
}

suite("migrating one node of a BIRD cluster from the Go plugin", () => {
  let lab: Lab.Lab | undefined
  let dirs: DataDirs | undefined
  beforeAll(async () => {
    assertPluginBuilt()
    lab = await Lab.up({ nodes: 2 })
    dirs = makeDataDirs(lab.nodes)
  })
  afterAll(async () => {
    const prefix = lab?.prefix
    await lab?.down()
    dirs?.remove()
    if (prefix !== undefined)
      assert.notInclude(await Lab.runsPresent(), prefix, "a namespace of the run remains")
  })

  it("a Go plugin address is taken for our plugin elsewhere; adopting it never withdraws it from the peers", async () => {
    if (lab === undefined || dirs === undefined) throw new Error("the lab is not up")
    const [goNode, ourNode] = lab.nodes as [Lab.LabNode, Lab.LabNode]
    // the Go plugin's claims on goNode, as it inserts them (no metric, scope universe, the pod device)
    const legacy = async (args: ReadonlyArray<string>) => {
      const run = await goNode.exec("ip", args)
      assert.strictEqual(run.code, 0, run.stderr)
    }
    await legacy(["route", "add", "100.64.7.5/32", "dev", "pods0", "proto", "192", "scope", "global"])
    await legacy(["-6", "route", "add", "fd00:100:0:7::5/128", "dev", "pods0", "proto", "192"])
    const learned = (routes: ReadonlyArray<Lab.LabRoute>, dst: string) =>
      routes.some((r) => r.dst === dst && r.protocol === Lab.birdProtocol && r.gateway !== undefined)
    const seen4 = await Lab.waitForRoutes(ourNode, 4, "100.64.7.0/24", (r) => learned(r, "100.64.7.5"))
    assert.isTrue(learned(seen4, "100.64.7.5"), JSON.stringify(seen4))
    const seen6 = await Lab.waitForRoutes(ourNode, 6, "fd00:100:0:7::/120", (r) =>
      learned(r, "fd00:100:0:7::5")
    )
    assert.isTrue(learned(seen6, "fd00:100:0:7::5"), JSON.stringify(seen6))

    // our plugin on the other node: the Go plugin's address is taken (requested -> 101, random -> the other one)
    const ourDir = dirs.of(ourNode)
    const requested = await invoke(ourNode, "ADD", ourDir, "r1", ipam, {
      requested: ["100.64.7.5", "fd00:100:0:7::9"]
    })
    assert.strictEqual(requested.errorCode, 101, describeOutcome(requested))
    const random = await invoke(ourNode, "ADD", ourDir, "r2", ipam)
    assert.strictEqual(random.code, 0, describeOutcome(random))
    assert.strictEqual(random.hosts[0], "100.64.7.6")
    // ... and the Go plugin's node sees that claim (it counts every route to an address before taking it)
    const back = await Lab.waitForRoutes(goNode, 4, "100.64.7.0/24", (r) => learned(r, "100.64.7.6"))
    assert.isTrue(learned(back, "100.64.7.6"), JSON.stringify(back))

    // migrate the Go plugin's node while the other node watches its table
    const goDir = dirs.of(goNode)
    mkdirSync(goDir, { recursive: true })
    const configFile = path.join(goDir, "10-pods.conf")
    writeFileSync(configFile, JSON.stringify(networkConfig(goDir, ipam)))
    const cacheDir = path.join(goDir, "results")
    mkdirSync(cacheDir)
    writeFileSync(
      path.join(cacheDir, "pods-g1-eth0"),
      JSON.stringify({
        kind: "cniCacheV1",
        containerId: "g1",
        ifName: "eth0",
        networkName: "pods",
        result: {
          cniVersion: "0.4.0",
          ips: [{ address: "100.64.7.5/24" }, { address: "fd00:100:0:7::5/120" }]
        }
      })
    )
    const monitor = await Lab.monitorRoutes(ourNode.netns)
    const migrated = await goNode.exec(
      nodeBinary,
      [pluginFile, "migrate", "--config", configFile, "--cni-cache-dir", cacheDir],
      {
        timeoutMs: 30_000
      }
    )
    assert.strictEqual(migrated.code, 0, migrated.stderr)
    assert.include(migrated.stdout, "2 adopted, 0 removed, 0 left legacy, 0 failed")
    const goRoutes = await goNode.routes(4, "100.64.7.0/24")
    assert.deepStrictEqual(
      goRoutes.filter((r) => r.dst === "100.64.7.5").map((r) => [r.protocol, r.metric, r.dev]),
      [[192, 4096, "pods0"]]
    )
    // give BIRD time to pass on whatever it would (its kernel scan runs every 10 s; notifications at once)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const events = await monitor.stop()
    const touched = events.filter(
      (e) => e.route.startsWith("100.64.7.5 ") || e.route.startsWith("fd00:100:0:7::5 ")
    )
    assert.deepStrictEqual(
      touched.filter((e) => e.deleted).map((e) => e.route),
      [],
      `the peer never lost the address; events: ${JSON.stringify(touched)}`
    )
    console.log(`peer's route events while migrating: ${JSON.stringify(touched.map((e) => e.route))}`)
    assert.isTrue(learned(await ourNode.routes(4, "100.64.7.0/24"), "100.64.7.5"))
    assert.isTrue(learned(await ourNode.routes(6, "fd00:100:0:7::/120"), "fd00:100:0:7::5"))

    // negative control: the other order (delete the legacy route, then insert ours) is seen by the peer as a withdrawal
    await legacy(["route", "add", "100.64.7.9/32", "dev", "pods0", "proto", "192", "scope", "global"])
    await Lab.waitForRoutes(ourNode, 4, "100.64.7.0/24", (r) => learned(r, "100.64.7.9"))
    const watch = await Lab.monitorRoutes(ourNode.netns)
    await legacy(["route", "del", "100.64.7.9/32", "proto", "192", "metric", "0"])
    await legacy(["route", "add", "100.64.7.9/32", "dev", "pods0", "proto", "192", "metric", "4096"])
    await new Promise((resolve) => setTimeout(resolve, 500))
    const wrongOrder = (await watch.stop()).filter((e) => e.route.startsWith("100.64.7.9 "))
    assert.isTrue(
      wrongOrder.some((e) => e.deleted),
      `delete-then-insert withdraws it from the peer: ${JSON.stringify(wrongOrder)}`
    )
  }, 120_000)
})
