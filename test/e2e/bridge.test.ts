// Debian's `bridge` CNI plugin as the client: it delegates IPAM to the built plugin, per spec version.
import { rmSync } from "node:fs"
import { assert, afterAll, beforeAll, it } from "@effect/vitest"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, isRoot, privileged } from "../support/Privileges.ts"
import { assertPluginBuilt, assertQuietSuccess, describeRun, stdoutJson } from "./support/BuiltPlugin.ts"
import { addressesOn, hasBridgePlugin, ipamType, makeIpamBinDir, runBridge } from "./support/BridgeClient.ts"
import { assertOurRoutes } from "./support/KernelRoutes.ts"
import { filesUnder, makeDataDir, removeDataDir } from "./support/PluginConfig.ts"

const suite = privileged(
  "needs root, a private network namespace and Debian's bridge plugin (`apt-get install containernetworking-plugins`)",
  isRoot() && canUnshareNet() && hasBridgePlugin()
)

/** The bridge's network config, delegating to us; addresses from 100.64.1.0/24, gateway on cni0. */
const bridgeConf = (cniVersion: string, dataDir: string): Record<string, unknown> => ({
  cniVersion,
  name: "e2e-bridge",
  type: "bridge",
  bridge: "cni0",
  isGateway: true,
  ipam: {
    type: ipamType,
    ranges: [[{ subnet: "100.64.1.0/24", gateway: "100.64.1.1" }]],
    device: "cni0",
    dataDir,
    propagationTimeout: "20ms"
  }
})

interface BridgeResult {
  readonly cniVersion: string
  readonly ips: ReadonlyArray<{
    readonly address: string
    readonly gateway?: string
    readonly version?: string
  }>
  readonly interfaces?: ReadonlyArray<{ readonly name: string }>
}

/** A host namespace with a container namespace inside, and a data directory; cleaned up afterwards. */
const inHost =
  (body: (host: Netns, container: Netns, dataDir: string) => Promise<void>) => async (): Promise<void> => {
    const host = await Netns.create()
    const dataDir = makeDataDir()
    try {
      const container = await host.createChild()
      await body(host, container, dataDir)
    } finally {
      await host.close()
      removeDataDir(dataDir)
    }
  }

suite("bridge plugin delegating to routetable-ipam", () => {
  let ipamBinDir = ""
  beforeAll(() => {
    assertPluginBuilt()
    ipamBinDir = makeIpamBinDir()
  })
  afterAll(() => {
    if (ipamBinDir !== "") rmSync(ipamBinDir, { recursive: true, force: true })
  })

  for (const version of ["0.3.1", "0.4.0", "1.0.0"] as const) {
    it(
      `${version}: ADD puts our address on eth0, CHECK passes, DEL removes our route and record`,
      inHost(async (host, container, dataDir) => {
        const conf = bridgeConf(version, dataDir)
        const call = { containerId: "ctr1", netns: container.path, ipamBinDir }
        const added = await runBridge(host, { ...call, command: "ADD" }, conf)
        assert.strictEqual(added.code, 0, describeRun(added))
        const result = stdoutJson(added) as unknown as BridgeResult
        assert.strictEqual(result.cniVersion, version)
        assert.lengthOf(result.ips, 1, describeRun(added))
        const address = result.ips[0]!.address
        assert.match(address, /^100\.64\.1\.\d+\/24$/)
        assert.notStrictEqual(address, "100.64.1.1/24", "the gateway is never handed out")
        assert.strictEqual(result.ips[0]!.gateway, "100.64.1.1")
        const host32 = address.slice(0, address.indexOf("/"))

        assert.deepStrictEqual(await addressesOn(container, "eth0"), [address], "the container's eth0")
        assert.include(await addressesOn(host, "cni0"), "100.64.1.1/24", "the bridge carries the gateway")
        await assertOurRoutes(host, [host32], "cni0")
        await assertOurRoutes(container, [])
        assert.lengthOf(filesUnder(dataDir), 1)

        const withPrev = { ...conf, prevResult: result }
        if (version !== "0.3.1") {
          assertQuietSuccess(await runBridge(host, { ...call, command: "CHECK" }, withPrev))
        }

        const deleted = await runBridge(
          host,
          { ...call, command: "DEL" },
          version === "0.3.1" ? conf : withPrev
        )
        assertQuietSuccess(deleted)
        await assertOurRoutes(host, [], "cni0")
        assert.deepStrictEqual(filesUnder(dataDir), [])
        const links = await container.run("ip", ["-j", "link", "show"])
        assert.notInclude(links, '"eth0"', "the bridge removed the container's veth")
      })
    )
  }

  it(
    "two containers get distinct addresses; DEL after a container is gone (CNI_NETNS empty) still releases",
    inHost(async (host, first, dataDir) => {
      const second = await host.createChild()
      const conf = bridgeConf("1.0.0", dataDir)
      const one = await runBridge(
        host,
        { command: "ADD", containerId: "ctr1", netns: first.path, ipamBinDir },
        conf
      )
      const two = await runBridge(
        host,
        { command: "ADD", containerId: "ctr2", netns: second.path, ipamBinDir },
        conf
      )
      assert.strictEqual(one.code, 0, describeRun(one))
      assert.strictEqual(two.code, 0, describeRun(two))
      const a = (stdoutJson(one) as unknown as BridgeResult).ips[0]!.address
      const b = (stdoutJson(two) as unknown as BridgeResult).ips[0]!.address
      assert.notStrictEqual(a, b)
      assert.deepStrictEqual(await addressesOn(first, "eth0"), [a])
      assert.deepStrictEqual(await addressesOn(second, "eth0"), [b])
      const hostOf = (cidr: string) => cidr.slice(0, cidr.indexOf("/"))
      await assertOurRoutes(host, [hostOf(a), hostOf(b)], "cni0")

      await second.close()
      assertQuietSuccess(
        await runBridge(host, { command: "DEL", containerId: "ctr2", netns: "", ipamBinDir }, conf)
      )
      await assertOurRoutes(host, [hostOf(a)], "cni0")
      assert.lengthOf(filesUnder(dataDir), 1)
    })
  )
})
