// The BIRD lab: N namespaces on a bridge, one BIRD each, carrying our host routes (root + bird2 only).
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import * as Lab from "../support/Lab.ts"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"

const available = isRoot() && hasCommand("bird") && hasCommand("birdc")
const suite = privileged("needs root and BIRD 2 (`apt-get install bird2`)", available)

const ours = 192
const hostLength = (family: 4 | 6) => (family === 4 ? "32" : "128")

/** `ip route add HOST dev pods0 proto 192 metric 4096` on a node: a claim as the plugin makes it. */
const claim = async (node: Lab.LabNode, family: 4 | 6, host: string) => {
  const result = await node.exec("ip", [
    `-${family}`,
    "route",
    "add",
    `${host}/${hostLength(family)}`,
    "dev",
    "pods0",
    "proto",
    String(ours),
    "metric",
    "4096"
  ])
  assert.strictEqual(result.code, 0, result.stderr)
}

const release = async (node: Lab.LabNode, family: 4 | 6, host: string) => {
  const args = [
    `-${family}`,
    "route",
    "del",
    `${host}/${hostLength(family)}`,
    "proto",
    String(ours),
    "metric",
    "4096"
  ]
  const result = await node.exec("ip", args)
  assert.strictEqual(result.code, 0, result.stderr)
}

const viaBird = (routes: ReadonlyArray<Lab.LabRoute>) =>
  routes.filter((route) => route.protocol === Lab.birdProtocol)
const mine = (routes: ReadonlyArray<Lab.LabRoute>) => routes.filter((route) => route.protocol === ours)
const gatewayOf = (node: Lab.LabNode, family: 4 | 6) => (family === 4 ? node.address : node.address6)

/** Wait up to `ms` for a route from BIRD to `host` on `node`, and assert it is there, via `from`. */
const assertLearned = async (
  node: Lab.LabNode,
  from: Lab.LabNode,
  family: 4 | 6,
  host: string,
  ms = 2_000
) => {
  const routes = await Lab.waitForRoutes(node, family, host, (found) => viaBird(found).length > 0, ms)
  const learned = viaBird(routes)
  assert.strictEqual(learned.length, 1, `${node.name} routes to ${host}: ${JSON.stringify(routes)}`)
  assert.strictEqual(learned[0]?.gateway, gatewayOf(from, family))
  assert.strictEqual(learned[0]?.metric, 32)
}

const assertGone = async (node: Lab.LabNode, family: 4 | 6, host: string, ms = 2_000) => {
  const routes = await Lab.waitForRoutes(node, family, host, (found) => found.length === 0, ms)
  assert.deepStrictEqual(routes, [], `${node.name} still routes ${host}`)
}

suite("BIRD lab (3 nodes)", () => {
  let lab: Lab.Lab | undefined
  const nodes = () => lab!.nodes
  const node = (index: number) => lab!.nodes[index]!

  beforeAll(async () => {
    lab = await Lab.up({ nodes: 3 })
  })
  afterAll(async () => {
    await lab?.down()
  })

  it("comes up with every BGP session Established and each node on its own addresses", async () => {
    assert.strictEqual(nodes().length, 3)
    assert.match(lab!.prefix, /^rtl[0-9a-f]{4}-$/)
    for (const each of nodes()) {
      assert.isTrue(each.netns.startsWith(lab!.prefix))
      const sessions = await each.sessions()
      assert.strictEqual(sessions.length, 2)
      for (const session of sessions) assert.include(session.info, "Established")
      const addresses = await each.exec("ip", ["-o", "addr", "show", "dev", "eth0"])
      assert.include(addresses.stdout, `${each.address}/24`)
      assert.include(addresses.stdout, `${each.address6}/64`)
    }
  })

  for (const family of [4, 6] as const) {
    const host = family === 4 ? "100.64.1.7" : "fd00:100::7"

    it(`carries an IPv${family} claim to every other node within 2 s, and withdraws it everywhere`, async () => {
      await claim(node(0), family, host)
      await assertLearned(node(1), node(0), family, host)
      await assertLearned(node(2), node(0), family, host)
      const own = await node(0).routes(family, host)
      assert.deepStrictEqual(
        own.map((route) => route.protocol),
        [ours],
        "node 1 keeps only its own route"
      )
      await release(node(0), family, host)
      await assertGone(node(1), family, host)
      await assertGone(node(2), family, host)
    })
  }

  it("carries only host routes of our protocol inside the pod ranges", async () => {
    const ignored = [
      ["100.64.1.20/32", "static"],
      ["100.64.2.0/24", String(ours)],
      ["198.19.0.5/32", String(ours)]
    ] as const
    for (const [dst, proto] of ignored) {
      const result = await node(0).exec("ip", [
        "route",
        "add",
        dst,
        "dev",
        "pods0",
        "proto",
        proto,
        "metric",
        "4096"
      ])
      assert.strictEqual(result.code, 0, result.stderr)
    }
    await claim(node(0), 4, "100.64.1.21") // the control: once it arrives, the others would have too
    await assertLearned(node(1), node(0), 4, "100.64.1.21")
    for (const [dst] of ignored) {
      assert.deepStrictEqual(viaBird(await node(1).routes(4, dst)), [], `${dst} must not travel`)
    }
    for (const [dst, proto] of ignored) {
      await node(0).exec("ip", ["route", "del", dst, "proto", proto, "metric", "4096"])
    }
    await release(node(0), 4, "100.64.1.21")
    await assertGone(node(1), 4, "100.64.1.21")
  })

  it("keeps a crashed node's claims on its peers, and theirs on it, across `bird -R` (graceful restart)", async () => {
    await claim(node(0), 4, "100.64.1.9")
    await claim(node(1), 4, "100.64.1.10")
    await assertLearned(node(1), node(0), 4, "100.64.1.9")
    await assertLearned(node(0), node(1), 4, "100.64.1.10")
    const onPeer = await Lab.monitorRoutes(node(1).netns)
    const onCrashed = await Lab.monitorRoutes(node(0).netns)

    await lab!.killBird(0, "SIGKILL")
    const peerSessions = await waitUntil(
      () => node(1).sessions(),
      (sessions) => sessions.some((session) => !session.info.includes("Established"))
    )
    assert.isTrue(
      peerSessions.some((session) => !session.info.includes("Established")),
      "node 2 noticed the crash"
    )
    await assertLearned(node(1), node(0), 4, "100.64.1.9", 0)

    await lab!.restartBird(0, { graceful: true })
    await new Promise((resolve) => setTimeout(resolve, 500)) // past the end of recovery and kernel sync
    await assertLearned(node(1), node(0), 4, "100.64.1.9", 0)
    await assertLearned(node(0), node(1), 4, "100.64.1.10", 0)
    const deleted = [...(await onPeer.stop()), ...(await onCrashed.stop())].filter((event) => event.deleted)
    assert.deepStrictEqual(deleted, [], "no route was withdrawn while BIRD was down")

    await release(node(0), 4, "100.64.1.9")
    await release(node(1), 4, "100.64.1.10")
    await assertGone(node(1), 4, "100.64.1.9")
    await assertGone(node(0), 4, "100.64.1.10")
  })

  it("keeps every claim in place across a planned `birdc graceful restart` + `bird -R`", async () => {
    await claim(node(2), 6, "fd00:100::12")
    await claim(node(0), 6, "fd00:100::13")
    await assertLearned(node(0), node(2), 6, "fd00:100::12")
    await assertLearned(node(2), node(0), 6, "fd00:100::13")
    const before = Lab.readPid(node(2).birdPidFile)
    const monitors = await Promise.all([node(0), node(2)].map((each) => Lab.monitorRoutes(each.netns)))
    await lab!.restartBird(2, { graceful: true })
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.notStrictEqual(Lab.readPid(node(2).birdPidFile), before, "BIRD was restarted")
    const deleted = (await Promise.all(monitors.map((monitor) => monitor.stop())))
      .flat()
      .filter((e) => e.deleted)
    assert.deepStrictEqual(deleted, [], "no route was withdrawn during the restart")
    await assertLearned(node(0), node(2), 6, "fd00:100::12", 0)
    await assertLearned(node(2), node(0), 6, "fd00:100::13", 0)
    await release(node(2), 6, "fd00:100::12")
    await release(node(0), 6, "fd00:100::13")
    await assertGone(node(0), 6, "fd00:100::12")
  })

  it("drops a node's claims on its peers when its BIRD shuts down cleanly (the counter-case)", async () => {
    await claim(node(0), 4, "100.64.1.11")
    await assertLearned(node(1), node(0), 4, "100.64.1.11")
    await lab!.stopBird(0)
    await assertGone(node(1), 4, "100.64.1.11")
    await lab!.startBird(0)
    await assertLearned(node(1), node(0), 4, "100.64.1.11", 5_000)
    await release(node(0), 4, "100.64.1.11")
    await assertGone(node(1), 4, "100.64.1.11")
  })

  for (const family of [4, 6] as const) {
    const host = family === 4 ? "100.64.1.30" : "fd00:100::30"

    it(`shows both claimants of one IPv${family} address two routes, theirs and the peer's (ADD-PATH)`, async () => {
      await Promise.all([claim(node(0), family, host), claim(node(1), family, host)])
      for (const [self, peer] of [
        [node(0), node(1)],
        [node(1), node(0)]
      ] as const) {
        const routes = await Lab.waitForRoutes(self, family, host, (found) => found.length >= 2)
        assert.strictEqual(mine(routes).length, 1, `${self.name}: ${JSON.stringify(routes)}`)
        assert.strictEqual(mine(routes)[0]?.metric, 4096)
        assert.strictEqual(viaBird(routes).length, 1, `${self.name}: ${JSON.stringify(routes)}`)
        assert.strictEqual(viaBird(routes)[0]?.gateway, gatewayOf(peer, family))
      }
      const third = await Lab.waitForRoutes(node(2), family, host, (found) => found.length > 0)
      assert.strictEqual(viaBird(third).length, 1, "a third node's kernel holds only the best path")
      await release(node(0), family, host)
      await release(node(1), family, host)
      await assertGone(node(2), family, host)
    })
  }

  it("propagates a claim in well under the plugin's 250 ms propagationTimeout (measured)", async () => {
    for (const family of [4, 6] as const) {
      const report = await Lab.measurePropagation(lab!, { routes: 50, family })
      console.log(`propagation, 3 nodes: ${JSON.stringify(report)}`)
      assert.strictEqual(report.sequential.missing, 0)
      assert.strictEqual(report.burst.missing, 0)
      assert.strictEqual(report.sequential.samples, 100)
      assert.isBelow(report.sequential.medianMs, 100)
      assert.isBelow(report.burst.maxMs, 1_000)
    }
  })

  it("tears down: BIRDs gone, no namespace with the lab's prefix left", async () => {
    const pids = lab!.nodes.map((each) => Lab.readPid(each.birdPidFile))
    for (const pid of pids) assert.isTrue(pid !== undefined && Lab.isAlive(pid), "BIRD runs before teardown")
    await lab!.down()
    assert.notInclude(await Lab.runsPresent(), lab!.prefix)
    for (const pid of pids) assert.isFalse(Lab.isAlive(pid!), `BIRD ${pid} still runs`)
  })
})

suite("BIRD lab (8 nodes)", () => {
  it("comes up as a full mesh and propagates claims to all 7 peers", async () => {
    const lab = await Lab.up({ nodes: 8 })
    try {
      for (const each of lab.nodes) assert.strictEqual((await each.sessions()).length, 7)
      const report = await Lab.measurePropagation(lab, { routes: 50, family: 4 })
      console.log(`propagation, 8 nodes: ${JSON.stringify(report)}`)
      assert.strictEqual(report.sequential.samples, 350)
      assert.strictEqual(report.burst.missing, 0)
      assert.isBelow(report.sequential.medianMs, 100)
    } finally {
      await lab.down()
    }
    assert.notInclude(await Lab.runsPresent(), lab.prefix)
  }, 60_000)
})

const waitUntil = async <A>(
  read: () => Promise<A>,
  done: (value: A) => boolean,
  timeoutMs = 5_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value) || Date.now() > deadline) return value
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
