// The CNI plugin end to end in-process: every verb and version, bad input, the original CNI_ARGS interface.
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NoFabricHealth from "../../../src/adapters/NoFabricHealth.ts"
import { supportedVersions } from "../../../src/adapters/cni/CniVersion.ts"
import { makeMemoryNode, PluginAdapters } from "../../../src/app/plugin/PluginAdapters.ts"
import { Attachments } from "../../../src/domain/Attachments.ts"
import { formatIp, type Ip, parseIp } from "../../../src/domain/Ip.ts"
import { RouteTable } from "../../../src/domain/RouteTable.ts"
import { baseEnv, invoke, netConf, runCni, runConcurrently, singleJson } from "./CniHarness.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const legacyVersions = ["0.3.0", "0.3.1", "0.4.0"] as const

/** Routes of the memory table as "address/origin" strings. */
const routesOf = (node: {
  routes: { snapshot: Effect.Effect<ReadonlyArray<{ host: Ip; origin: string }>> }
}) => Effect.map(node.routes.snapshot, (routes) => routes.map((r) => `${formatIp(r.host)}/${r.origin}`))

describe("cniMain", () => {
  describe("VERSION", () => {
    it.effect("lists all five versions without reading stdin", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const out = yield* runCni(node, { CNI_COMMAND: "VERSION" }, "this is not read")
        assert.strictEqual(out.status, 0)
        assert.deepStrictEqual(singleJson(out.stdout), {
          cniVersion: "1.1.0",
          supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        })
      })
    )
  })

  describe("ADD", () => {
    for (const version of supportedVersions) {
      it.effect(`${version} - result shape, route and record`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const conf = netConf(version, {
            routes: [{ dst: "0.0.0.0/0", gw: "100.64.0.1", mtu: 1400 }],
            dns: { nameservers: ["100.64.0.53"], search: ["svc"] }
          })
          const out = yield* runCni(node, baseEnv("ADD"), conf)
          assert.strictEqual(out.status, 0, out.stdout)
          const result = singleJson(out.stdout)
          assert.strictEqual(result.cniVersion, version)
          const ips = result.ips as Array<Record<string, string>>
          assert.strictEqual(ips.length, 1)
          const ip = ips[0]!
          assert.match(ip.address!, /^100\.64\.0\.\d+\/24$/)
          assert.strictEqual(ip.gateway, "100.64.0.1")
          if ((legacyVersions as ReadonlyArray<string>).includes(version)) assert.strictEqual(ip.version, "4")
          else assert.notProperty(ip, "version")
          assert.notProperty(result, "interfaces")
          const route =
            version === "1.1.0"
              ? { dst: "0.0.0.0/0", gw: "100.64.0.1", mtu: 1400 }
              : { dst: "0.0.0.0/0", gw: "100.64.0.1" }
          assert.deepStrictEqual(result.routes, [route])
          assert.deepStrictEqual(result.dns, { nameservers: ["100.64.0.53"], search: ["svc"] })
          const address = ip.address!.split("/")[0]!
          assert.deepStrictEqual(yield* routesOf(node), [`${address}/ours`])
          const records = yield* node.attachments.list("pods")
          assert.deepStrictEqual(
            records.map((r) => [r.containerId, r.ifname, r.addresses.map(formatIp)]),
            [["c1", "eth0", [address]]]
          )
        })
      )
    }

    it.effect("dual stack: one address per range set, IPv6 without gateway", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.0.0", {
          ranges: [[{ subnet: "100.64.0.0/24", gateway: "100.64.0.1" }], [{ subnet: "fd00::/120" }]]
        })
        const out = yield* runCni(node, baseEnv("ADD"), conf)
        assert.strictEqual(out.status, 0, out.stdout)
        const ips = singleJson(out.stdout).ips as Array<Record<string, string>>
        assert.strictEqual(ips.length, 2)
        assert.match(ips[0]!.address!, /^100\.64\.0\.\d+\/24$/)
        assert.match(ips[1]!.address!, /^fd00::[0-9a-f]+\/120$/)
        assert.notProperty(ips[1]!, "gateway")
        assert.notProperty(singleJson(out.stdout), "routes")
        assert.strictEqual((yield* routesOf(node)).length, 2)
      })
    )

    it.effect("shorthand subnet with rangeStart/rangeEnd at ipam level", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.0.0", {
          ranges: undefined,
          subnet: "100.64.3.0/24",
          rangeStart: "100.64.3.10",
          rangeEnd: "100.64.3.10"
        })
        const out = yield* runCni(node, baseEnv("ADD"), conf)
        assert.strictEqual(out.status, 0, out.stdout)
        assert.strictEqual(
          (singleJson(out.stdout).ips as Array<{ address: string }>)[0]!.address,
          "100.64.3.10/24"
        )
      })
    )

    it.effect(
      "requested addresses: runtimeConfig.ips before args.cni.ips before CNI_ARGS IP=, prefix stripped",
      () =>
        Effect.gen(function* () {
          const addressOf = (stdout: string) =>
            (singleJson(stdout).ips as Array<{ address: string }>).map((i) => i.address)
          const node = yield* makeMemoryNode()
          const all = netConf(
            "1.0.0",
            {},
            { runtimeConfig: { ips: ["100.64.0.7/24"] }, args: { cni: { ips: ["100.64.0.8"] } } }
          )
          const a = yield* runCni(node, { ...baseEnv("ADD", "a"), CNI_ARGS: "IP=100.64.0.9" }, all)
          assert.deepStrictEqual(addressOf(a.stdout), ["100.64.0.7/24"])
          const argsOnly = netConf("1.0.0", {}, { args: { cni: { ips: ["100.64.0.8/24"] } } })
          const b = yield* runCni(node, { ...baseEnv("ADD", "b"), CNI_ARGS: "IP=100.64.0.9" }, argsOnly)
          assert.deepStrictEqual(addressOf(b.stdout), ["100.64.0.8/24"])
          const dual = netConf("0.4.0", {
            ranges: [[{ subnet: "100.64.0.0/24" }], [{ subnet: "fd00::/64" }]]
          })
          const c = yield* runCni(
            node,
            { ...baseEnv("ADD", "c"), CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=x;IP=100.64.0.9/24,fd00::9" },
            dual
          )
          assert.deepStrictEqual(addressOf(c.stdout), ["100.64.0.9/24", "fd00::9/64"])
        })
    )

    it.effect("runtimeConfig.ipRanges overrides ipam.ranges", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.0.0", {}, { runtimeConfig: { ipRanges: [[{ subnet: "100.64.9.0/30" }]] } })
        const out = yield* runCni(node, baseEnv("ADD"), conf)
        const address = (singleJson(out.stdout).ips as Array<{ address: string }>)[0]!.address
        assert.include(["100.64.9.1/30", "100.64.9.2/30"], address)
      })
    )

    it.effect("a repeated ADD for the same attachment returns the same address", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const first = yield* runCni(node, baseEnv("ADD"), netConf("1.0.0"))
        const second = yield* runCni(node, baseEnv("ADD"), netConf("1.0.0"))
        assert.deepStrictEqual(singleJson(second.stdout).ips, singleJson(first.stdout).ips)
        assert.strictEqual((yield* routesOf(node)).length, 1)
      })
    )

    it.effect("32 concurrent ADDs on one node get 32 distinct addresses", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        // a /26 has 62 hosts minus the gateway: 32 claims collide often on random picks
        const conf = netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/26", gateway: "100.64.0.1" }]] })
        const outs = yield* runConcurrently(
          node,
          Array.from({ length: 32 }, (_, i) => ({ env: baseEnv("ADD", `pod${i}`), stdin: conf }))
        )
        const addresses = outs.map((o) => {
          assert.strictEqual(o.status, 0, o.stdout)
          return (singleJson(o.stdout).ips as Array<{ address: string }>)[0]!.address
        })
        assert.strictEqual(new Set(addresses).size, 32)
        assert.strictEqual((yield* routesOf(node)).length, 32)
        assert.strictEqual((yield* node.attachments.list("pods")).length, 32)
      })
    )

    it.effect("pool exhausted: code 100, nothing left behind by the failed ADD", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/30" }]] })
        for (const id of ["a", "b"])
          assert.strictEqual((yield* runCni(node, baseEnv("ADD", id), conf)).status, 0)
        const out = yield* runCni(node, baseEnv("ADD", "c"), conf)
        assert.strictEqual(out.status, 100)
        const error = singleJson(out.stdout)
        assert.strictEqual(error.code, 100)
        assert.include(error.msg as string, "no free address")
        assert.strictEqual((yield* routesOf(node)).length, 2)
        assert.deepStrictEqual(
          (yield* node.attachments.list("pods")).map((r) => r.containerId),
          ["a", "b"]
        )
      })
    )

    it.effect("requested address taken (101) or outside the pools (102)", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.routes.addOther({ host: at("100.64.0.20"), nextHop: at("198.18.0.2") })
        const taken = netConf("1.0.0", {}, { runtimeConfig: { ips: ["100.64.0.20"] } })
        const a = yield* runCni(node, baseEnv("ADD", "a"), taken)
        assert.strictEqual(a.status, 101)
        assert.include(singleJson(a.stdout).msg as string, "100.64.0.20")
        const outside = netConf("1.0.0", {}, { runtimeConfig: { ips: ["100.64.1.20"] } })
        const b = yield* runCni(node, baseEnv("ADD", "b"), outside)
        assert.strictEqual(b.status, 102)
        assert.include(singleJson(b.stdout).msg as string, "100.64.1.20")
        assert.deepStrictEqual(yield* routesOf(node), ["100.64.0.20/other"])
        assert.deepStrictEqual(yield* node.attachments.list("pods"), [])
      })
    )

    it.effect("passes the ipam knobs to the adapters (protocol, table, device, metric, dataDir)", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.0.0", {
          routeProtocol: 200,
          table: "main",
          device: "vxlan0",
          metric: 5000,
          dataDir: "/run/ipam"
        })
        assert.strictEqual((yield* runCni(node, baseEnv("ADD"), conf)).status, 0)
        assert.deepStrictEqual(node.settingsSeen(), [
          {
            network: "pods",
            dataDir: "/run/ipam",
            protocol: 200,
            table: 254,
            device: "vxlan0",
            metric: 5000,
            fabricHealth: { type: "none" }
          }
        ])
      })
    )

    it.effect("logs go to the configured file, never to stdout", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const file = join(mkdtempSync(join(tmpdir(), "cni-log-")), "plugin.log")
        const out = yield* runCni(node, baseEnv("ADD"), netConf("1.0.0", { log: { file, level: "debug" } }))
        assert.strictEqual(out.status, 0)
        singleJson(out.stdout)
        const log = readFileSync(file, "utf8")
        assert.include(log, "ADD pods c1/eth0")
        assert.match(log, /attempt 1 100\.64\.\d+\.\d+: Won/)
      })
    )
  })

  describe("DEL", () => {
    for (const version of supportedVersions) {
      it.effect(`${version} - releases route and record; a second DEL succeeds too`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const conf = netConf(version)
          assert.strictEqual((yield* runCni(node, baseEnv("ADD"), conf)).status, 0)
          const env = { ...baseEnv("DEL"), CNI_NETNS: undefined }
          for (let i = 0; i < 2; i++) {
            const out = yield* runCni(node, env, conf)
            assert.strictEqual(out.status, 0, out.stdout)
            assert.strictEqual(out.stdout, "")
          }
          assert.deepStrictEqual(yield* routesOf(node), [])
          assert.deepStrictEqual(yield* node.attachments.list("pods"), [])
        })
      )
    }

    it.effect(
      "without a record nothing is released: not prevResult's addresses, not another owner's (GC collects orphans)",
      () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const conf = netConf("1.0.0")
          const added = yield* runCni(node, baseEnv("ADD", "owner"), conf)
          const owned = (singleJson(added.stdout).ips as Array<{ address: string }>)[0]!.address
          yield* node.routes.addOther({ host: at("100.64.0.77"), protocol: 192 })
          const prev = netConf(
            "1.0.0",
            {},
            { prevResult: { cniVersion: "1.0.0", ips: [{ address: "100.64.0.77/24" }, { address: owned }] } }
          )
          const out = yield* runCni(node, baseEnv("DEL", "gone"), prev)
          assert.strictEqual(out.status, 0, out.stdout)
          assert.sameMembers(yield* routesOf(node), [`${owned.split("/")[0]}/ours`, "100.64.0.77/ours"])
        })
    )
  })

  describe("CHECK", () => {
    for (const version of supportedVersions) {
      it.effect(
        `${version} - ${legacyVersions.slice(0, 2).includes(version as "0.3.0") ? "refused before 0.4.0" : "passes after ADD"}`,
        () =>
          Effect.gen(function* () {
            const node = yield* makeMemoryNode()
            const added = yield* runCni(node, baseEnv("ADD"), netConf(version))
            const prevResult = JSON.parse(added.stdout)
            const out = yield* runCni(node, baseEnv("CHECK"), netConf(version, {}, { prevResult }))
            if (version === "0.3.0" || version === "0.3.1") {
              assert.strictEqual(out.status, 1)
              assert.include(singleJson(out.stdout).msg as string, "cniVersion: CHECK needs 0.4.0")
            } else {
              assert.strictEqual(out.status, 0, out.stdout)
              assert.strictEqual(out.stdout, "")
            }
          })
      )
    }

    it.effect("prevResult is mandatory (7); unknown attachment (3); missing route (103)", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const added = yield* runCni(node, baseEnv("ADD"), netConf("1.0.0"))
        const prevResult = JSON.parse(added.stdout)
        const noPrev = yield* runCni(node, baseEnv("CHECK"), netConf("1.0.0"))
        assert.strictEqual(noPrev.status, 7)
        assert.include(singleJson(noPrev.stdout).msg as string, "prevResult")
        const unknown = yield* runCni(node, baseEnv("CHECK", "other"), netConf("1.0.0", {}, { prevResult }))
        assert.strictEqual(unknown.status, 3)
        assert.include(singleJson(unknown.stdout).msg as string, "CNI_CONTAINERID")
        const address = at((prevResult.ips[0].address as string).split("/")[0]!)
        yield* node.routes.remove(address)
        const missing = yield* runCni(node, baseEnv("CHECK"), netConf("1.0.0", {}, { prevResult }))
        assert.strictEqual(missing.status, 103)
        assert.include(singleJson(missing.stdout).msg as string, "missing")
      })
    )
  })

  describe("GC", () => {
    for (const version of supportedVersions) {
      it.effect(
        `${version} - ${version === "1.1.0" ? "releases attachments not listed as valid" : "refused (code 1)"}`,
        () =>
          Effect.gen(function* () {
            const node = yield* makeMemoryNode()
            const conf = netConf(version)
            for (const id of ["keep", "drop"])
              assert.strictEqual((yield* runCni(node, baseEnv("ADD", id), conf)).status, 0)
            // ours, unexplained: an address neither ADD got (a random pick may have landed on .200)
            const taken = (yield* node.attachments.list("pods")).flatMap((r) => r.addresses.map(formatIp))
            const orphan = ["100.64.0.200", "100.64.0.201", "100.64.0.202"].find((a) => !taken.includes(a))!
            yield* node.routes.addOther({ host: at(orphan), protocol: 192 })
            const gcConf = netConf(
              version,
              {},
              { "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }] }
            )
            const out = yield* runCni(node, { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, gcConf)
            const records = (yield* node.attachments.list("pods")).map((r) => r.containerId)
            if (version !== "1.1.0") {
              assert.strictEqual(out.status, 1)
              assert.include(singleJson(out.stdout).msg as string, "GC needs 1.1.0")
              assert.deepStrictEqual(records, ["drop", "keep"])
              return
            }
            assert.strictEqual(out.status, 0, out.stdout)
            assert.strictEqual(out.stdout, "")
            assert.deepStrictEqual(records, ["keep"])
            const kept = (yield* node.attachments.list("pods"))[0]!.addresses.map(formatIp)
            assert.deepStrictEqual(
              yield* routesOf(node),
              kept.map((a) => `${a}/ours`)
            )
          })
      )
    }

    it.effect("accepts cni.dev/attachments; refuses a GC without any list (7)", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        assert.strictEqual((yield* runCni(node, baseEnv("ADD", "keep"), netConf("1.1.0"))).status, 0)
        const older = netConf(
          "1.1.0",
          {},
          { "cni.dev/attachments": [{ containerID: "keep", ifname: "eth0" }] }
        )
        assert.strictEqual((yield* runCni(node, { CNI_COMMAND: "GC" }, older)).status, 0)
        assert.strictEqual((yield* node.attachments.list("pods")).length, 1)
        const none = yield* runCni(node, { CNI_COMMAND: "GC" }, netConf("1.1.0"))
        assert.strictEqual(none.status, 7)
        assert.include(singleJson(none.stdout).msg as string, "cni.dev/valid-attachments")
        assert.strictEqual((yield* node.attachments.list("pods")).length, 1)
      })
    )
  })

  describe("STATUS", () => {
    for (const version of supportedVersions) {
      it.effect(`${version} - ${version === "1.1.0" ? "ready: exit 0, no output" : "refused (code 1)"}`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const out = yield* runCni(node, { CNI_COMMAND: "STATUS" }, netConf(version))
          if (version === "1.1.0") {
            assert.strictEqual(out.status, 0)
            assert.strictEqual(out.stdout, "")
          } else {
            assert.strictEqual(out.status, 1)
            assert.include(singleJson(out.stdout).msg as string, "STATUS needs 1.1.0")
          }
        })
      )
    }

    it.effect("code 50 when a tiny pool is full", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.1.0", { ranges: [[{ subnet: "100.64.0.0/30" }]] })
        for (const id of ["a", "b"])
          assert.strictEqual((yield* runCni(node, baseEnv("ADD", id), conf)).status, 0)
        const out = yield* runCni(node, { CNI_COMMAND: "STATUS" }, conf)
        assert.strictEqual(out.status, 50)
        const error = singleJson(out.stdout)
        assert.strictEqual(error.cniVersion, "1.1.0")
        assert.include(error.msg as string, "100.64.0.1-100.64.0.2")
      })
    )
  })

  describe("bad input", () => {
    const big = `{"cniVersion":"1.0.0","name":"pods","pad":"${"x".repeat(1024 * 1024)}"}`
    const cases: ReadonlyArray<{
      readonly name: string
      readonly env?: Record<string, string | undefined>
      readonly stdin: string
      readonly code: number
      readonly field: string
    }> = [
      { name: "malformed JSON", stdin: "{ not json", code: 6, field: "stdin" },
      { name: "JSON that is not an object", stdin: "[1,2]", code: 6, field: "stdin" },
      { name: "very large stdin", stdin: big, code: 6, field: "stdin" },
      { name: "unknown cniVersion", stdin: netConf("0.2.0"), code: 1, field: "cniVersion" },
      {
        name: "missing cniVersion",
        stdin: JSON.stringify({ name: "pods", ipam: {} }),
        code: 1,
        field: "cniVersion"
      },
      {
        name: "wrong type in ranges",
        stdin: netConf("1.0.0", { ranges: [[{ subnet: 24 }]] }),
        code: 6,
        field: "ipam.ranges[0][0].subnet"
      },
      {
        name: "wrong type of propagationTimeout",
        stdin: netConf("1.0.0", { propagationTimeout: true }),
        code: 6,
        field: "ipam.propagationTimeout"
      },
      {
        name: "bad CIDR",
        stdin: netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/33" }]] }),
        code: 7,
        field: "ipam.ranges[0][0].subnet"
      },
      {
        name: "IPv4/IPv6 mismatch",
        stdin: netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/24", rangeStart: "fd00::1" }]] }),
        code: 7,
        field: "ipam.ranges[0][0].rangeStart"
      },
      {
        name: "rangeStart outside the subnet",
        stdin: netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/24", rangeStart: "10.1.0.5" }]] }),
        code: 7,
        field: "ipam.ranges[0][0].rangeStart: 10.1.0.5 is outside subnet 100.64.0.0/24"
      },
      {
        name: "overlapping range sets",
        stdin: netConf("1.0.0", { ranges: [[{ subnet: "100.64.0.0/24" }], [{ subnet: "100.64.0.128/25" }]] }),
        code: 7,
        field: "ipam.ranges[1]"
      },
      {
        name: "exclude not a CIDR",
        stdin: netConf("1.0.0", { exclude: ["nope"] }),
        code: 7,
        field: "ipam.exclude[0]"
      },
      {
        name: "reserved routeProtocol",
        stdin: netConf("1.0.0", { routeProtocol: 3 }),
        code: 7,
        field: "ipam.routeProtocol: 3 is reserved"
      },
      { name: "bad table", stdin: netConf("1.0.0", { table: "vrf" }), code: 7, field: "ipam.table" },
      {
        name: "bad propagationTimeout",
        stdin: netConf("1.0.0", { propagationTimeout: "soon" }),
        code: 7,
        field: "ipam.propagationTimeout"
      },
      {
        name: "bad route dst",
        stdin: netConf("1.0.0", { routes: [{ dst: "default" }] }),
        code: 7,
        field: "ipam.routes[0].dst"
      },
      {
        name: "invalid network name",
        stdin: JSON.stringify({ cniVersion: "1.0.0", name: "../etc", ipam: {} }),
        code: 7,
        field: "name"
      },
      {
        name: "bad requested address",
        stdin: netConf("1.0.0", {}, { runtimeConfig: { ips: ["100.64.0.300"] } }),
        code: 7,
        field: "runtimeConfig.ips[0]"
      },
      {
        name: "container ID ../x",
        env: { CNI_CONTAINERID: "../x" },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_CONTAINERID"
      },
      {
        name: "interface name with a slash",
        env: { CNI_IFNAME: "a/b" },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_IFNAME"
      },
      {
        name: "unknown CNI_COMMAND",
        env: { CNI_COMMAND: "FETCH" },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_COMMAND"
      },
      {
        name: "missing CNI_NETNS on ADD",
        env: { CNI_NETNS: undefined },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_NETNS"
      },
      {
        name: "missing CNI_CONTAINERID",
        env: { CNI_CONTAINERID: undefined },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_CONTAINERID"
      },
      {
        name: "unknown CNI_ARGS key",
        env: { CNI_ARGS: "FOO=bar" },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_ARGS: unknown args FOO=bar"
      },
      {
        name: "CNI_ARGS pair without =",
        env: { CNI_ARGS: "IgnoreUnknown" },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_ARGS"
      },
      {
        name: "bad CNI_ARGS IP",
        env: { CNI_ARGS: "IP=1.2.3" },
        stdin: netConf("1.0.0"),
        code: 4,
        field: "CNI_ARGS IP[0]"
      },
      {
        name: "no ranges and no CIDR",
        stdin: netConf("1.0.0", { ranges: undefined }),
        code: 7,
        field: "CNI_ARGS: CIDR"
      }
    ]
    for (const c of cases) {
      it.effect(`${c.name} -> code ${c.code} naming ${c.field.split(":")[0]}`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const out = yield* runCni(node, { ...baseEnv("ADD"), ...c.env }, c.stdin)
          assert.strictEqual(out.status, c.code, out.stdout)
          const error = singleJson(out.stdout)
          assert.strictEqual(error.code, c.code)
          assert.isString(error.cniVersion)
          assert.include(error.msg as string, c.field)
          assert.deepStrictEqual(yield* routesOf(node), [])
          assert.deepStrictEqual(yield* node.attachments.list("pods"), [])
        })
      )
    }

    it.effect("an unknown CNI_ARGS key passes with IgnoreUnknown=1 or true", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        for (const [i, flag] of ["1", "true"].entries()) {
          const env = { ...baseEnv("ADD", `c${i}`), CNI_ARGS: `FOO=bar;IgnoreUnknown=${flag}` }
          assert.strictEqual((yield* runCni(node, env, netConf("1.0.0"))).status, 0)
        }
      })
    )

    it.effect("errors carry the config's cniVersion once it is known", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const out = yield* runCni(node, baseEnv("ADD"), netConf("0.3.1", { routeProtocol: 0 }))
        assert.strictEqual(singleJson(out.stdout).cniVersion, "0.3.1")
      })
    )

    it.effect("a defect is code 999 JSON and exit status 1", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const dying = Layer.effect(RouteTable, Effect.die(new Error("boom")))
        const broken = {
          ...node,
          adapters: PluginAdapters.of({
            layerFor: () =>
              Layer.mergeAll(dying, Layer.succeed(Attachments, node.attachments), NoFabricHealth.layer)
          })
        }
        const out = yield* invoke(broken, baseEnv("ADD"), netConf("1.0.0"))
        assert.strictEqual(out.status, 1)
        const error = singleJson(out.stdout)
        assert.strictEqual(error.code, 999)
        assert.include(error.details as string, "boom")
      })
    )
  })

  describe("the original plugin's CNI_ARGS interface (no stdin)", () => {
    it.effect("CIDR network ID: random address, result 0.4.0; EXCLUDE_FIRST counts the network address", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        // 100.64.0.0/29: original picks from [.0+2, .7-2) = .2 .. .4
        const args = "CIDR=100.64.0.0/29;EXCLUDE_FIRST=2;EXCLUDE_LAST=2;LINK_INDEX=7"
        const got: Array<string> = []
        for (const id of ["a", "b", "c"]) {
          const out = yield* runCni(node, { ...baseEnv("ADD", id), CNI_ARGS: args })
          assert.strictEqual(out.status, 0, out.stdout)
          const result = singleJson(out.stdout)
          assert.strictEqual(result.cniVersion, "0.4.0")
          const ip = (result.ips as Array<{ version: string; address: string }>)[0]!
          assert.strictEqual(ip.version, "4")
          got.push(ip.address)
        }
        assert.deepStrictEqual(got.sort(), ["100.64.0.2/29", "100.64.0.3/29", "100.64.0.4/29"])
        const full = yield* runCni(node, { ...baseEnv("ADD", "d"), CNI_ARGS: args })
        assert.strictEqual(full.status, 100)
        assert.strictEqual(singleJson(full.stdout).cniVersion, "0.4.0")
        assert.strictEqual(node.settingsSeen()[0]!.device, 7)
        assert.strictEqual(node.settingsSeen()[0]!.network, "cidr-100.64.0.0_29")
      })
    )

    it.effect("CIDR with host bits: exactly that address; DEL with the same CIDR releases it, twice", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const env = { ...baseEnv("ADD"), CNI_ARGS: "CIDR=100.64.0.5/24;EXCLUDE_FIRST=10" }
        const out = yield* runCni(node, env)
        assert.strictEqual(out.status, 0, out.stdout)
        assert.deepStrictEqual(singleJson(out.stdout).ips, [{ version: "4", address: "100.64.0.5/24" }])
        const check = yield* runCni(node, { ...baseEnv("CHECK"), CNI_ARGS: "CIDR=100.64.0.5/24" })
        assert.strictEqual(check.status, 0, check.stdout)
        for (let i = 0; i < 2; i++) {
          const del = yield* runCni(node, { ...baseEnv("DEL"), CNI_ARGS: "CIDR=100.64.0.5/24;LINK_INDEX=7" })
          assert.strictEqual(del.status, 0, del.stdout)
          assert.strictEqual(del.stdout, "")
        }
        assert.deepStrictEqual(yield* routesOf(node), [])
        assert.deepStrictEqual(yield* node.attachments.list("cidr-100.64.0.0_24"), [])
      })
    )

    it.effect("a requested address already in use is 101 at once (the original looped forever)", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        yield* node.routes.addOther({ host: at("100.64.0.5"), nextHop: at("198.18.0.2") })
        const out = yield* runCni(node, { ...baseEnv("ADD"), CNI_ARGS: "CIDR=100.64.0.5/24" })
        assert.strictEqual(out.status, 101)
        assert.strictEqual(singleJson(out.stdout).cniVersion, "0.4.0")
      })
    )

    it.effect("a config without ranges takes CIDR from CNI_ARGS and keeps its own name and version", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = JSON.stringify({ cniVersion: "1.0.0", name: "vx", ipam: { type: "routetable-ipam" } })
        const out = yield* runCni(node, { ...baseEnv("ADD"), CNI_ARGS: "CIDR=100.64.0.0/24" }, conf)
        assert.strictEqual(out.status, 0, out.stdout)
        const result = singleJson(out.stdout)
        assert.strictEqual(result.cniVersion, "1.0.0")
        assert.strictEqual((yield* node.attachments.list("vx")).length, 1)
      })
    )

    it.effect("without CIDR: code 7 naming CNI_ARGS; bad EXCLUDE_FIRST: code 4", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const none = yield* runCni(node, baseEnv("ADD"))
        assert.strictEqual(none.status, 7)
        assert.include(singleJson(none.stdout).msg as string, "CNI_ARGS: CIDR=<cidr> is required")
        const bad = yield* runCni(node, { ...baseEnv("ADD"), CNI_ARGS: "CIDR=100.64.0.0/24;EXCLUDE_FIRST=x" })
        assert.strictEqual(bad.status, 4)
        assert.include(singleJson(bad.stdout).msg as string, "EXCLUDE_FIRST=x")
        assert.deepStrictEqual(yield* routesOf(node), [])
      })
    )
  })
})
