// Issue 8 item 5: BIRD restarted the way the DaemonSet does it (preStop graceful restart, bird -R) keeps the node's claims on every peer.
import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import * as Lab from "../support/Lab.ts"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { type DataDirs, describeOutcome, invoke, makeDataDirs } from "./cluster/ClusterPlugin.ts"
import { holdersOf, waitLearned } from "./cluster/ClusterRoutes.ts"
import { report } from "./cluster/Measures.ts"
import { assertPluginBuilt } from "./support/BuiltPlugin.ts"
import { runConfigMapScript } from "./support/DaemonSetScripts.ts"

const available = isRoot() && hasCommand("bird") && hasCommand("birdc")

/** Route events of the peers' kernels that delete one of `hosts` (the watch covered the whole restart). */
const dropsOf = (events: ReadonlyArray<Lab.RouteEvent>, hosts: ReadonlyArray<string>) =>
  events.filter((event) => event.deleted && hosts.some((host) => event.route.startsWith(`${host} `)))

privileged("needs root and BIRD 2 (`apt-get install bird2`)", available)(
  "a BIRD restart as the DaemonSet does it (3-node lab, the built plugin)",
  () => {
    let lab: Lab.Lab | undefined
    let dirs: DataDirs | undefined
    const ipam = { ranges: [[{ subnet: "100.64.30.0/24" }], [{ subnet: "fd00:100:0:30::/120" }]] }
    const node = (index: number) => lab!.nodes[index]!

    beforeAll(async () => {
      assertPluginBuilt()
      lab = await Lab.up({ nodes: 3 })
      dirs = makeDataDirs(lab.nodes)
    }, 120_000)

    afterAll(async () => {
      await lab?.down()
      dirs?.remove()
    }, 60_000)

    /** Node 1 claims `count` dual-stack pairs with the built plugin; every peer learns them. */
    const claimOnNode1 = async (prefix: string, count: number) => {
      const hosts: Array<string> = []
      for (let i = 0; i < count; i++) {
        const outcome = await invoke(node(0), "ADD", dirs!.of(node(0)), `${prefix}-${i}`, ipam)
        assert.strictEqual(outcome.code, 0, describeOutcome(outcome))
        hosts.push(...outcome.hosts)
      }
      for (const index of [1, 2]) assert.deepStrictEqual(await waitLearned(node(index), hosts), [])
      return hosts
    }

    it("preStop (bird-prestop.sh: birdc graceful restart, wait for exit), then bird -R: no peer ever drops node 1's claims; readiness waits for the sessions", async () => {
      const hosts = await claimOnNode1("kept", 3)
      const monitors = await Promise.all([1, 2].map((index) => Lab.monitorRoutes(node(index).netns)))
      const pid = Lab.readPid(node(0).birdPidFile)
      assert.isTrue(pid !== undefined && Lab.isAlive(pid), "node 1's BIRD runs")
      const started = Date.now()
      const stop = await runConfigMapScript("bird-prestop.sh", node(0).birdSocket)
      assert.strictEqual(stop.code, 0, stop.stdout + stop.stderr)
      const stoppedMs = Date.now() - started
      // the hook waits for the control socket to go, then a second more; allow the process a
      // little longer to be reaped on a loaded machine
      const deadline = Date.now() + 3_000
      while (Lab.isAlive(pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      assert.isFalse(Lab.isAlive(pid!), "the preStop returns once BIRD has exited")
      // BIRD is gone: readiness fails; the peers still route to node 1's addresses (stale)
      assert.notStrictEqual(
        (await runConfigMapScript("bird-ready.sh", node(0).birdSocket, { BIRD_CONFIG: node(0).birdConfig }))
          .code,
        0
      )
      for (const index of [1, 2]) assert.deepStrictEqual(await waitLearned(node(index), hosts, 0), [])
      // another node asking for one of them meanwhile is refused: taken
      const wanted = await invoke(node(1), "ADD", dirs!.of(node(1)), "wants-kept", ipam, {
        requested: [hosts[0]!, hosts[1]!]
      })
      assert.strictEqual(wanted.code, 101, describeOutcome(wanted))

      // the container restarts: bird -f -R (the lab waits until every session is Established)
      await lab!.startBird(0, { graceful: true })
      // readiness follows once BIRD's graceful restart recovery is over (its kernel synchronised)
      const readiness = () =>
        runConfigMapScript("bird-ready.sh", node(0).birdSocket, { BIRD_CONFIG: node(0).birdConfig })
      let ready = await readiness()
      for (let i = 0; i < 50 && ready.code !== 0; i++) {
        assert.match(ready.stdout, /graceful restart recovery in progress/)
        await sleep(200)
        ready = await readiness()
      }
      assert.strictEqual(ready.code, 0, ready.stdout + ready.stderr)
      assert.strictEqual(ready.stdout.trim(), "2 of 2 BGP sessions Established")
      await sleep(1_500) // past graceful recovery: stale routes refreshed, BIRD's kernel sync done
      const events = (await Promise.all(monitors.map((monitor) => monitor.stop()))).flat()
      assert.deepStrictEqual(dropsOf(events, hosts), [], "a peer dropped node 1's routes")
      for (const host of hosts) assert.deepStrictEqual(await holdersOf(lab!, host), ["n1"], host)
      for (const index of [1, 2]) assert.deepStrictEqual(await waitLearned(node(index), hosts, 0), [])
      report("BIRD graceful restart as the DaemonSet does it", {
        claims: hosts.length,
        preStopMs: stoppedMs,
        downMs: Date.now() - started,
        routeEventsOnPeers: events.length,
        drops: 0
      })
    }, 60_000)

    it("negative control: the same restart by SIGTERM (no preStop) makes the peers drop node 1's claims", async () => {
      const hosts = await claimOnNode1("dropped", 2)
      const monitors = await Promise.all([1, 2].map((index) => Lab.monitorRoutes(node(index).netns)))
      await lab!.restartBird(0)
      await sleep(500)
      const events = (await Promise.all(monitors.map((monitor) => monitor.stop()))).flat()
      const drops = dropsOf(events, hosts)
      // both peers dropped both addresses (v4 and v6 each)
      assert.strictEqual(drops.length, 2 * hosts.length, JSON.stringify(events))
      report("BIRD restart by SIGTERM (negative control)", { claims: hosts.length, drops: drops.length })
    }, 60_000)
  }
)
