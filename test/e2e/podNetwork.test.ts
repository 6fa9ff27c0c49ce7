// Pods on different nodes reach each other through the real CNI chain (bridge + built plugin), overlay and routed.
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import * as Lab from "../support/Lab.ts"
import { privileged } from "../support/Privileges.ts"
import { assertPluginBuilt } from "./support/BuiltPlugin.ts"
import {
  type Pod,
  type PodNetwork,
  pathOf,
  ping,
  pingMatrix,
  podLab,
  podLabAvailable,
  podLabRequirement,
  routesTo,
  type Topology,
  transitCount,
  underlayOf,
  waitRoutesTo
} from "./support/PodLab.ts"

const suite = privileged(podLabRequirement, podLabAvailable())

const ours = 192
const families = [4, 6] as const

/** The routes every node must have to an address held on `holder`: ours there, BIRD's everywhere else. */
const heldOn = (network: PodNetwork, holder: Pod): Record<string, Array<number>> =>
  Object.fromEntries(
    network.lab.nodes.map((node) => [node.name, node === holder.node ? [ours] : [Lab.birdProtocol]])
  )

const nowhere = (network: PodNetwork): Record<string, Array<number>> =>
  Object.fromEntries(network.lab.nodes.map((node) => [node.name, []]))

/** Where the sender's node must send packets for `to`: the hosting node's underlay address. */
const expectedNextHop = (network: PodNetwork, to: Pod, family: 4 | 6): string | undefined =>
  network.topology === "routed" ? underlayOf(to.node, family) : to.node.address

const addressOf = (pod: Pod, family: 4 | 6): string => {
  const address = pod.address(family)
  assert.isDefined(address, `${pod.name} has no IPv${family} address: ${pod.addresses.join(", ")}`)
  return address!
}

const assertReaches = async (from: Pod, to: string, context: string) => {
  const outcome = await ping(from, to)
  assert.isTrue(outcome.ok, `${context}: ${from.name} on ${from.node.name} -> ${to}: ${outcome.output}`)
}

const assertUnreachable = async (from: Pod, to: string, context: string) => {
  const outcome = await ping(from, to)
  assert.isFalse(
    outcome.ok,
    `${context}: ${from.name} on ${from.node.name} still reaches ${to}: ${outcome.output}`
  )
}

const podSuite = (topology: Topology) =>
  suite(`pods on 3 nodes reach each other (${topology}, dual stack)`, () => {
    let network: PodNetwork | undefined
    /** One pod per node, made before the tests. */
    let base: ReadonlyArray<Pod> = []
    const net = () => {
      if (network === undefined) throw new Error("the pod network is not up")
      return network
    }

    beforeAll(async () => {
      assertPluginBuilt()
      network = await podLab(topology)
      base = await Promise.all(network.lab.nodes.map((_, index) => net().addPod(index)))
    })
    afterAll(async () => {
      await network?.lab.down()
    })

    it("every pod pings every pod on the other nodes, IPv4 and IPv6", async () => {
      for (const pod of base) assert.lengthOf(pod.addresses, 2, `${pod.name}: ${pod.addresses.join(", ")}`)
      const cells = await pingMatrix(base, families)
      assert.lengthOf(cells, 3 * 2 * 2)
      const failed = cells
        .filter((cell) => !cell.outcome.ok)
        .map(
          (cell) => `${cell.from.name}@${cell.from.node.name} -> ${cell.outcome.to}: ${cell.outcome.output}`
        )
      assert.deepStrictEqual(failed, [])
    })

    it("the packets go straight to the hosting node; routed: the third node forwards none of them", async () => {
      const n = net()
      await pingMatrix(base, families)
      for (const from of base) {
        for (const to of base.filter((pod) => pod.node !== from.node)) {
          for (const family of families) {
            const path = await pathOf(n, from, to, family)
            assert.strictEqual(path.nextHop, expectedNextHop(n, to, family), path.evidence)
            assert.strictEqual(path.dev, topology === "routed" ? "eth0" : n.vxlan, path.evidence)
          }
        }
      }
      const [from, to, third] = base as [Pod, Pod, Pod]
      for (const family of families) {
        const address = addressOf(to, family)
        await assertReaches(from, address, "warm-up")
        const before = [await transitCount(n, to.node, family), await transitCount(n, third.node, family)]
        const burst = await ping(from, address, { count: 20, intervalSeconds: 0.01 })
        assert.strictEqual(burst.received, 20, burst.output)
        const after = [await transitCount(n, to.node, family), await transitCount(n, third.node, family)]
        const carried = after.map((count, index) => count - (before[index] ?? 0))
        assert.isAtLeast(carried[0]!, 20, `IPv${family}: ${to.node.name} (hosting) carried ${carried[0]}`)
        if (topology === "routed") {
          // the forwarding counter counts exactly the datagrams a node routed on
          assert.strictEqual(
            carried[1],
            0,
            `IPv${family}: ${third.node.name} (neither end) forwarded ${carried[1]} of the 20`
          )
        } else {
          // vxlan floods broadcast, multicast (ARP, ND) and unicast to a MAC its forwarding table has
          // not (yet or any more) learned to every node, so the third node's vxlan0 may receive
          // copies (seen: 0 to 8 of 20) and drops them; the sender's learned entry (pathOf above)
          // is what sends the echo requests to the hosting node's VTEP
          console.log(`overlay IPv${family}: ${third.node.name} received ${carried[1]} flooded copies of 20`)
        }
      }
    })

    it("deleting a pod withdraws its routes on every node and makes it unreachable", async () => {
      const n = net()
      const victim = await n.addPod(1)
      const addresses = families.map((family) => addressOf(victim, family))
      for (const address of addresses) {
        assert.deepStrictEqual(await waitRoutesTo(n, address, heldOn(n, victim)), heldOn(n, victim), address)
        for (const from of [base[0]!, base[2]!]) await assertReaches(from, address, "before DEL")
      }
      await n.deletePod(victim)
      for (const address of addresses) {
        assert.deepStrictEqual(await waitRoutesTo(n, address, nowhere(n)), nowhere(n), `${address} after DEL`)
      }
      // each check waits out ping's 1 s timeout: all at once
      await Promise.all(
        addresses.flatMap((address) =>
          [base[0]!, base[2]!].map((from) => assertUnreachable(from, address, "after DEL"))
        )
      )
    })

    it("an address freed on one node and reused on another is reachable at its new place once ADD returns", async () => {
      const n = net()
      const pinger = base[0]!
      const first = await n.addPod(1)
      const addresses = families.map((family) => addressOf(first, family))
      for (const address of addresses) await assertReaches(pinger, address, "at its first place")
      await n.deletePod(first)
      for (const address of addresses) {
        assert.deepStrictEqual(await waitRoutesTo(n, address, nowhere(n)), nowhere(n), `${address} after DEL`)
      }
      const moved = await n.addPod(2, { requested: addresses })
      assert.deepStrictEqual(
        families.map((family) => moved.address(family)),
        addresses,
        "the ADD on node 3 got the requested addresses"
      )
      // ADD returned after W: every node's table already points at the new place (no waiting here)
      for (const address of addresses) {
        assert.deepStrictEqual(await routesTo(n, address), heldOn(n, moved), `${address} right after ADD`)
      }
      // Overlay: a pod that talked to the old holder keeps its MAC in its neighbour cache (the bridge
      // plugin sends no gratuitous ARP or unsolicited NA), so the reachable check uses a pod that
      // never did; the stale one is shown below. Routed: the sender's neighbour is its node, unchanged.
      const sender = topology === "routed" ? pinger : await n.addPod(0)
      for (const [index, family] of families.entries()) {
        await assertReaches(sender, addresses[index]!, "at its new place")
        const path = await pathOf(n, sender, moved, family)
        assert.strictEqual(path.nextHop, expectedNextHop(n, moved, family), path.evidence)
      }
      if (topology === "overlay") {
        await Promise.all(
          addresses.map((address) => assertUnreachable(pinger, address, "stale neighbour cache"))
        )
        return
      }
      // Routed: freed and reused on the same node, by a pod with another MAC. The node's bridge keeps
      // its MAC (fixed) and forgot the old pod's at DEL, so nothing cached anywhere is stale.
      const bridgeMac = async () =>
        (await moved.node.exec("cat", [`/sys/class/net/${n.bridge}/address`])).stdout
      const macBefore = await bridgeMac()
      await n.deletePod(moved)
      assert.strictEqual(await bridgeMac(), macBefore, "the bridge's MAC changed when a port went")
      const again = await n.addPod(2, { requested: addresses })
      assert.notStrictEqual(again.mac, moved.mac)
      for (const address of addresses) {
        assert.deepStrictEqual(
          await routesTo(n, address),
          heldOn(n, again),
          `${address} back on the same node`
        )
        for (const from of [pinger, base[1]!, base[2]!])
          await assertReaches(from, address, "reused on the same node")
      }
    })

    it("tears down: no namespace of the run remains", async () => {
      const prefix = net().lab.prefix
      await net().lab.down()
      assert.notInclude(await Lab.runsPresent(), prefix)
    })
  })

podSuite("routed")
podSuite("overlay")
