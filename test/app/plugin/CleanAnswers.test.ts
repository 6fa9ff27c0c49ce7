// Issue 12 (every input gets a clean answer) and issue 8 item 6 (unsafe settings), in-process: one case per defect found.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { supportedVersions } from "../../../src/adapters/cni/CniVersion.ts"
import { makeMemoryNode, type MemoryNode } from "../../../src/app/plugin/PluginAdapters.ts"
import { baseEnv, netConf, runCni, singleJson } from "./CniHarness.ts"

const verbEnv = (command: string): Record<string, string | undefined> =>
  command === "GC" || command === "STATUS" ? { CNI_COMMAND: command } : baseEnv(command)

/** `depth` nested arrays as JSON text: `[[[...]]]`. */
const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth)

/** Run one invocation and assert a clean CNI error: `code`, one JSON line, `msg` containing `field`, no stack. */
const expectError = (
  node: MemoryNode,
  env: Record<string, string | undefined>,
  stdin: string,
  code: number,
  field: string
) =>
  Effect.gen(function* () {
    const out = yield* runCni(node, env, stdin)
    assert.strictEqual(out.status, code, out.stdout.slice(0, 500))
    const error = singleJson(out.stdout)
    assert.strictEqual(error.code, code)
    assert.include(error.msg as string, field, out.stdout.slice(0, 500))
    assert.notInclude(out.stdout, "    at ", "no stack trace")
    return error
  })

const noTrace = (node: MemoryNode) =>
  Effect.gen(function* () {
    assert.deepStrictEqual(yield* node.routes.snapshot, [])
    assert.deepStrictEqual(yield* node.attachments.list("pods"), [])
  })

describe("every input gets a clean answer (issue 12)", () => {
  describe("1: deeply nested JSON is code 6 on every verb", () => {
    for (const command of ["ADD", "DEL", "CHECK", "GC", "STATUS"]) {
      it.effect(`${command}: 6,000 levels in name, in an ipam key, in an unknown key`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const deep = nested(6000)
          const stdins = [
            `{"cniVersion":"1.1.0","name":${deep}}`,
            `{"cniVersion":"1.1.0","name":"pods","ipam":{"ranges":[[{"subnet":"100.64.0.0/24"}]],"routes":${deep}}}`,
            `{"cniVersion":"1.1.0","name":"pods","ipam":{"ranges":[[{"subnet":"100.64.0.0/24"}]]},"x":${deep}}`,
            `{"cniVersion":"1.1.0","name":"pods","prevResult":{"ips":[{"address":${deep}}]}}`
          ]
          for (const stdin of stdins) {
            const error = yield* expectError(node, verbEnv(command), stdin, 6, "stdin")
            assert.include(error.msg as string, "nest")
          }
          yield* noTrace(node)
        })
      )
    }

    it.effect("nesting a real config needs (a dozen levels) is fine", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.0.0", {}, { capabilities: { a: JSON.parse(nested(30)) } })
        const out = yield* runCni(node, baseEnv("ADD"), conf)
        assert.strictEqual(out.status, 0, out.stdout)
      })
    )
  })

  describe("3: range checking is sort-based", () => {
    /** `count` disjoint /28 range sets inside 100.64.0.0/10. */
    const sets = (count: number) =>
      Array.from({ length: count }, (_, i) => [
        { subnet: `100.${64 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16}/28` }
      ])

    it.effect("5,000 disjoint range sets are accepted on DEL; one overlapping the first is named", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const ok = yield* runCni(node, baseEnv("DEL"), netConf("1.0.0", { ranges: sets(5000) }))
        assert.strictEqual(ok.status, 0, ok.stdout.slice(0, 300))
        const clash = [...sets(5000), [{ subnet: "100.64.0.0/30" }]]
        yield* expectError(node, baseEnv("DEL"), netConf("1.0.0", { ranges: clash }), 7, "ipam.ranges[5000]")
        const error = yield* expectError(
          node,
          baseEnv("ADD"),
          netConf("1.0.0", { ranges: clash }),
          7,
          "overlaps"
        )
        assert.strictEqual(error.msg, "ipam.ranges[5000]: subnet 100.64.0.0/30 overlaps ipam.ranges[0]")
      })
    )
  })

  describe("beyond the issue's list (found while fuzzing by hand): prevResult against many range sets", () => {
    it.effect(
      "DEL and CHECK with 3,000 range sets and 3,000 prevResult addresses answer (each address was tested against every subnet)",
      () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const ranges = Array.from({ length: 3000 }, (_, i) => [
            { subnet: `100.${64 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16}/28` }
          ])
          const ips = Array.from({ length: 3000 }, (_, i) => ({
            address: `10.${(i >> 8) & 255}.${i & 255}.1/24`
          }))
          const conf = netConf("1.0.0", { ranges }, { prevResult: { ips } })
          const del = yield* runCni(node, baseEnv("DEL"), conf)
          assert.strictEqual(del.status, 0, del.stdout.slice(0, 300))
          // none of the addresses is inside the network: CHECK has nothing to compare with the record
          const check = yield* runCni(node, baseEnv("CHECK"), conf)
          assert.strictEqual(check.status, 3, check.stdout.slice(0, 300))
        })
    )
  })

  describe("4: container IDs too long for a record file name are refused up front", () => {
    for (const command of ["ADD", "DEL", "CHECK"]) {
      it.effect(`${command}: 235 characters -> 4 naming CNI_CONTAINERID and the limit 234`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const conf = netConf("1.0.0", {}, { prevResult: { ips: [{ address: "100.64.0.5/24" }] } })
          const error = yield* expectError(
            node,
            { ...baseEnv(command), CNI_CONTAINERID: "a".repeat(235) },
            conf,
            4,
            "CNI_CONTAINERID"
          )
          assert.include(error.msg as string, "234")
          yield* noTrace(node)
        })
      )
    }

    it.effect("234 characters: ADD and DEL work", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const env = { CNI_CONTAINERID: "b".repeat(234) }
        assert.strictEqual((yield* runCni(node, { ...baseEnv("ADD"), ...env }, netConf("1.0.0"))).status, 0)
        assert.strictEqual((yield* runCni(node, { ...baseEnv("DEL"), ...env }, netConf("1.0.0"))).status, 0)
        yield* noTrace(node)
      })
    )
  })

  describe("5, 6: dataDir and log.file on pseudo file systems or stdout", () => {
    const cases: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
      ["dataDir under /proc", { dataDir: "/proc/1/x" }, "ipam.dataDir"],
      ["dataDir under /sys", { dataDir: "/sys/x" }, "ipam.dataDir"],
      ["dataDir with NUL", { dataDir: "/tmp/a\u0000b" }, "ipam.dataDir"],
      ["log.file /dev/stdout", { log: "/dev/stdout" }, "ipam.log.file"],
      ["log.file /proc/self/fd/1", { log: { file: "/proc/self/fd/1" } }, "ipam.log.file"],
      ["log.file /dev/fd/1", { log: { file: "/dev/fd/1", level: "debug" } }, "ipam.log.file"],
      ["log.file /dev/fd/../fd/1", { log: "/dev/fd/../fd/1" }, "ipam.log.file"],
      ["log.file /proc/thread-self/fd/1", { log: "/proc/thread-self/fd/1" }, "ipam.log.file"],
      ["log.file under /sys", { log: "/sys/kernel/x" }, "ipam.log.file"],
      ["log.file with NUL", { log: "/tmp/log\u0000x" }, "ipam.log.file"]
    ]
    for (const [name, ipam, field] of cases) {
      it.effect(`${name} -> 7 naming ${field}`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          yield* expectError(node, baseEnv("ADD"), netConf("1.0.0", ipam), 7, field)
          yield* noTrace(node)
        })
      )
    }
  })

  describe("7: the legacy CNI_ARGS path checks exclusion counts like the ranges path", () => {
    for (const value of [-5, 0.5, 1e300]) {
      it.effect(`config excludeFirst/excludeLast ${value} with CNI_ARGS CIDR= -> 7`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          const env = { ...baseEnv("ADD"), CNI_ARGS: "CIDR=100.64.0.0/24" }
          for (const key of ["excludeFirst", "excludeLast"]) {
            const conf = JSON.stringify({ cniVersion: "1.0.0", name: "pods", ipam: { [key]: value } })
            yield* expectError(node, env, conf, 7, `ipam.${key}`)
          }
          yield* noTrace(node)
        })
      )
    }

    it.effect("CNI_ARGS EXCLUDE_FIRST=-5, EXCLUDE_LAST=0.5 -> 4", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        for (const pair of ["EXCLUDE_FIRST=-5", "EXCLUDE_LAST=0.5", "EXCLUDE_LAST=1e3"]) {
          const env = { ...baseEnv("ADD"), CNI_ARGS: `CIDR=100.64.0.0/24;${pair}` }
          yield* expectError(node, env, "", 4, "CNI_ARGS")
        }
      })
    )
  })

  describe("9: lenient where host-local is not", () => {
    const cases: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
      ["IPv4 subnet with host bits", { ranges: [[{ subnet: "100.64.1.0/16" }]] }, "ipam.ranges[0][0].subnet"],
      ["IPv6 subnet with host bits", { ranges: [[{ subnet: "fd00:64::1/64" }]] }, "ipam.ranges[0][0].subnet"],
      ["shorthand subnet with host bits", { ranges: undefined, subnet: "100.64.0.9/24" }, "ipam.subnet"],
      ["mtu 1e400", { routes: [{ dst: "0.0.0.0/0", mtu: "1e999" }] }, "ipam.routes[0].mtu"],
      ["mtu -1", { routes: [{ dst: "0.0.0.0/0", mtu: -1 }] }, "ipam.routes[0].mtu"],
      ["advmss 1.5", { routes: [{ dst: "0.0.0.0/0", advmss: 1.5 }] }, "ipam.routes[0].advmss"],
      ["priority 2^32", { routes: [{ dst: "0.0.0.0/0", priority: 2 ** 32 }] }, "ipam.routes[0].priority"],
      ["table -1", { routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", table: -1 }] }, "ipam.routes[1].table"],
      ["scope 256", { routes: [{ dst: "0.0.0.0/0", scope: 256 }] }, "ipam.routes[0].scope"]
    ]
    for (const [name, ipam, field] of cases) {
      it.effect(`${name} -> 7 naming ${field}`, () =>
        Effect.gen(function* () {
          const node = yield* makeMemoryNode()
          // JSON.stringify writes Infinity as null: put the literal 1e400 into the text
          const conf = netConf("1.1.0", ipam).replace('"mtu":"1e999"', '"mtu":1e400')
          const error = yield* expectError(node, baseEnv("ADD"), conf, 7, field)
          if (name.includes("host bits")) assert.include(error.msg as string, "host bits")
          yield* noTrace(node)
        })
      )
    }

    it.effect("host-bit subnets are refused in runtimeConfig.ipRanges too", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const conf = netConf("1.0.0", {}, { runtimeConfig: { ipRanges: [[{ subnet: "100.64.0.1/24" }]] } })
        yield* expectError(node, baseEnv("ADD"), conf, 7, "runtimeConfig.ipRanges[0][0].subnet")
      })
    )

    it.effect("valid route numbers pass through to a 1.1.0 result", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const route = {
          dst: "0.0.0.0/0",
          mtu: 9000,
          advmss: 1460,
          priority: 4294967295,
          table: 100,
          scope: 0
        }
        const out = yield* runCni(node, baseEnv("ADD"), netConf("1.1.0", { routes: [route] }))
        assert.strictEqual(out.status, 0, out.stdout)
        assert.deepStrictEqual(singleJson(out.stdout).routes, [route])
      })
    )

    it.effect("CNI_IFNAME that was not valid UTF-8 (U+FFFD after decoding) -> 4", () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        for (const command of ["ADD", "DEL", "CHECK"]) {
          const env = { ...baseEnv(command), CNI_IFNAME: "eth\uFFFD" }
          const conf = netConf("1.0.0", {}, { prevResult: { ips: [] } })
          yield* expectError(node, env, conf, 4, "CNI_IFNAME")
        }
      })
    )
  })
})

describe("unsafe settings are refused (issue 8 item 6)", () => {
  const refused: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
    ["propagationTimeout 0", { propagationTimeout: 0 }, "ipam.propagationTimeout"],
    ["propagationTimeout 19", { propagationTimeout: 19 }, "ipam.propagationTimeout"],
    ['propagationTimeout "19.9ms"', { propagationTimeout: "19.9ms" }, "ipam.propagationTimeout"],
    ['propagationTimeout "0s"', { propagationTimeout: "0s" }, "ipam.propagationTimeout"],
    ["metric 1024", { metric: 1024 }, "ipam.metric"],
    ["metric 32 (BIRD's)", { metric: 32 }, "ipam.metric"],
    ["metric 0", { metric: 0 }, "ipam.metric"],
    [
      "propagationTimout (typo)",
      { propagationTimout: "5s" },
      "ipam.propagationTimout: unknown key; did you mean propagationTimeout?"
    ],
    ["PropagationTimeout (case)", { PropagationTimeout: "5s" }, "did you mean propagationTimeout?"],
    ["tabel (transposition)", { tabel: 100 }, "ipam.tabel: unknown key; did you mean table?"],
    ["routeProtocl", { routeProtocl: 12 }, "did you mean routeProtocol?"],
    ["exlcude", { exlcude: ["100.64.0.9"] }, "did you mean exclude?"],
    ["rangess", { rangess: [] }, "did you mean ranges?"],
    ["dataDr", { dataDr: "/tmp" }, "did you mean dataDir?"]
  ]
  for (const [name, ipam, field] of refused) {
    it.effect(`${name} -> 7 (${field})`, () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        for (const command of ["ADD", "DEL"]) {
          yield* expectError(node, baseEnv(command), netConf("1.0.0", ipam), 7, field)
        }
        yield* noTrace(node)
      })
    )
  }

  it.effect("the floor and the metric bound accept the values next to them; unrelated keys are ignored", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const accepted: ReadonlyArray<Record<string, unknown>> = [
        { propagationTimeout: 20 },
        { propagationTimeout: "20ms" },
        { propagationTimeout: "0.02s" },
        { metric: 1025 },
        { metric: 5000 },
        { capabilities: { ips: true } },
        { resolvConf: "/etc/resolv.conf" },
        { foo: 1, xyz: 2, myOwnSetting: true, rt: 1 },
        { dns: {} }
      ]
      for (const [i, ipam] of accepted.entries()) {
        const out = yield* runCni(node, baseEnv("ADD", `ok${i}`), netConf("1.0.0", ipam))
        assert.strictEqual(out.status, 0, `${JSON.stringify(ipam)}: ${out.stdout}`)
      }
    })
  )

  for (const version of supportedVersions) {
    it.effect(`${version}: the typo message carries the config's version`, () =>
      Effect.gen(function* () {
        const node = yield* makeMemoryNode()
        const out = yield* runCni(node, baseEnv("ADD"), netConf(version, { maxAtempts: 3 }))
        assert.strictEqual(singleJson(out.stdout).cniVersion, version)
        assert.include(singleJson(out.stdout).msg as string, "did you mean maxAttempts?")
      })
    )
  }
})
