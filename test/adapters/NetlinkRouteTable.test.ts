// NetlinkRouteTable against the real kernel, in private network namespaces (the driver runs inside them).
import { afterEach, assert, describe, it } from "@effect/vitest"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, hasCommand, privileged } from "../support/Privileges.ts"
import type { RouteJson, Script, Step, StepResult } from "./netlink/RouteTableDriver.ts"

const repository = fileURLToPath(new URL("../../", import.meta.url))
const localNode = `${repository}node_modules/.bin/node`
const node = existsSync(localNode) ? localNode : process.execPath
const driver = `${repository}test/adapters/netlink/RouteTableDriver.ts`
const measure = `${repository}test/adapters/netlink/measure.ts`

const labSetup = [
  "ip link add up0 type veth peer name peer0",
  "ip link set up0 up",
  "ip link set peer0 up",
  "ip addr add 198.18.0.1/24 dev up0",
  "ip -6 addr add fd00:198:18::1/64 dev up0 nodad",
  "ip link add pod0 type veth peer name podpeer0",
  "ip link set pod0 up",
  "ip link set podpeer0 up"
].join(" && ")

const open: Array<Netns> = []

/** A fresh namespace with an uplink `up0` (198.18.0.1/24, fd00:198:18::1/64) and a pod link `pod0`. */
const lab = async (): Promise<Netns> => {
  const ns = await Netns.create()
  open.push(ns)
  await ns.run("sh", ["-c", labSetup])
  return ns
}

const ifindex = async (ns: Netns, name: string): Promise<number> =>
  Number((await ns.run("ip", ["-o", "link", "show", name])).split(":")[0])

const ip = (ns: Netns, command: string): Promise<string> => ns.run("sh", ["-c", `ip ${command}`])

const drive = async (
  ns: Netns,
  steps: ReadonlyArray<Step>,
  options?: Script["options"],
  transport?: Pick<Script, "stall" | "starve">
): Promise<ReadonlyArray<StepResult>> => {
  const script: Script = { steps, ...(options === undefined ? {} : { options }), ...transport }
  // a call that hangs makes the driver overrun this and fail the test (exit code of a kill)
  const result = await ns.exec(node, [driver], { stdin: JSON.stringify(script), timeoutMs: 30_000 })
  assert.strictEqual(result.code, 0, result.stderr)
  const output = JSON.parse(result.stdout) as { results?: ReadonlyArray<StepResult>; layerError?: unknown }
  assert.isDefined(output.results, `layer failed: ${JSON.stringify(output.layerError)}`)
  return output.results ?? []
}

const ok = (result: StepResult | undefined): unknown => {
  assert.isDefined(result)
  assert.ok(result !== undefined && "ok" in result, `expected success, got ${JSON.stringify(result)}`)
  return (result as { ok: unknown }).ok
}

/** Routes in a stable order (origin, host, next hop), so lists compare regardless of kernel order. */
const sorted = (list: ReadonlyArray<RouteJson>): ReadonlyArray<RouteJson> =>
  [...list].sort((a, b) =>
    `${a.origin} ${a.host} ${a.nextHop ?? ""}`.localeCompare(`${b.origin} ${b.host} ${b.nextHop ?? ""}`)
  )

const routes = (result: StepResult | undefined): ReadonlyArray<RouteJson> =>
  sorted(ok(result) as ReadonlyArray<RouteJson>)

/** The RouteTableError of a failed step: its operation, reason and message. */
const tableError = (
  result: StepResult | undefined
): { operation: string; reason?: string; message: string } => {
  assert.isDefined(result)
  assert.ok(result !== undefined && "error" in result, `expected a failure, got ${JSON.stringify(result)}`)
  const error = (result as { error: Record<string, unknown> }).error
  assert.strictEqual(error._tag, "RouteTableError", JSON.stringify(error))
  return error as unknown as { operation: string; reason?: string; message: string }
}

const ours = (host: string, extra?: Partial<RouteJson>): RouteJson => ({
  host,
  origin: "ours",
  protocol: 192,
  table: 254,
  metric: 4096,
  device: 1,
  ...extra
})

interface FamilyCase {
  readonly name: string
  readonly host: (n: number) => string
  readonly bits: number
  readonly gateway: string
  readonly gateway2: string
  readonly source: string
  readonly pool: string
}

const families: ReadonlyArray<FamilyCase> = [
  {
    name: "IPv4",
    host: (n) => `100.64.0.${n}`,
    bits: 32,
    gateway: "198.18.0.2",
    gateway2: "198.18.0.3",
    source: "198.18.0.1",
    pool: "100.64.0.0/24"
  },
  {
    name: "IPv6",
    host: (n) => `fd00::${n.toString(16)}`,
    bits: 128,
    gateway: "fd00:198:18::2",
    gateway2: "fd00:198:18::3",
    source: "fd00:198:18::1",
    pool: "fd00::/120"
  }
]

const kernelPrerequisites = canUnshareNet() && hasCommand("nsenter") && hasCommand("ip")

privileged("needs a private network namespace (`unshare -rn`, nsenter, ip)", kernelPrerequisites)(
  "NetlinkRouteTable (kernel, private namespaces)",
  () => {
    afterEach(async () => {
      await Promise.all(open.splice(0).map((ns) => ns.close()))
    })

    for (const family of families) {
      const { host, bits } = family
      const ipf = (ns: Netns, command: string) => ip(ns, `-${bits === 32 ? 4 : 6} ${command}`)
      describe(family.name, () => {
        it("claim inserts our host route; a second claim fails with HostTaken; release is idempotent", async () => {
          const ns = await lab()
          const a = host(5)
          const results = await drive(ns, [
            { op: "claim", arg: a },
            { op: "claim", arg: a },
            { op: "routesTo", arg: a }
          ])
          assert.strictEqual(ok(results[0]), null)
          assert.deepStrictEqual(results[1], { error: { _tag: "HostTaken", host: a } })
          assert.deepStrictEqual(routes(results[2]), [ours(a)])
          assert.match(await ipf(ns, `-N route show ${a}/${bits} proto 192`), /dev lo .*metric 4096/)

          const released = await drive(ns, [
            { op: "release", arg: a },
            { op: "release", arg: a },
            { op: "routesTo", arg: a },
            { op: "isTaken", arg: a }
          ])
          assert.deepStrictEqual(released, [{ ok: null }, { ok: null }, { ok: [] }, { ok: false }])
          assert.strictEqual(await ipf(ns, `-N route show ${a}/${bits}`), "")
        })

        it("release never deletes a route of another protocol or another metric", async () => {
          const ns = await lab()
          const otherProtocol = host(6)
          const otherMetric = host(7)
          await ipf(ns, `route add ${otherProtocol}/${bits} dev lo proto 4 metric 4096`)
          await ipf(ns, `route add ${otherMetric}/${bits} dev lo proto 192 metric 100`)
          const results = await drive(ns, [
            { op: "release", arg: otherProtocol },
            { op: "release", arg: otherMetric },
            { op: "routesTo", arg: otherProtocol },
            { op: "routesTo", arg: otherMetric }
          ])
          assert.deepStrictEqual(results.slice(0, 2), [{ ok: null }, { ok: null }])
          assert.match(await ipf(ns, `-N route show ${otherProtocol}/${bits}`), /proto 4 .*metric 4096/)
          assert.match(await ipf(ns, `-N route show ${otherMetric}/${bits}`), /proto 192 .*metric 100/)
          assert.deepStrictEqual(routes(results[2]), [
            { host: otherProtocol, origin: "other", protocol: 4, table: 254, metric: 4096, device: 1 }
          ])
          assert.deepStrictEqual(routes(results[3]), [
            { host: otherMetric, origin: "other", protocol: 192, table: 254, metric: 100, device: 1 }
          ])
        })

        it("isTaken: ours, another's, none, only a covering route, only a covering blackhole", async () => {
          const ns = await lab()
          await ipf(ns, `route add ${host(11)}/${bits} via ${family.gateway} proto 12 metric 32`)
          await ipf(ns, `route add ${family.pool} via ${family.gateway} proto 12`)
          await ipf(ns, `route add blackhole ${family.host(0).replace(/0$/, "")}0/${bits === 32 ? 16 : 100}`)
          const results = await drive(ns, [
            { op: "claim", arg: host(10) },
            { op: "isTaken", arg: host(10) },
            { op: "isTaken", arg: host(11) },
            { op: "isTaken", arg: host(12) },
            { op: "routesTo", arg: host(12) }
          ])
          assert.deepStrictEqual(results, [
            { ok: null },
            { ok: true },
            { ok: true },
            { ok: false },
            { ok: [] }
          ])
        })

        it("routesTo reports a better competitor of another protocol (with its next hop) and ours", async () => {
          const ns = await lab()
          const a = host(20)
          const uplink = await ifindex(ns, "up0")
          const results = await drive(ns, [{ op: "claim", arg: a }])
          assert.strictEqual(ok(results[0]), null)
          await ipf(ns, `route add ${a}/${bits} via ${family.gateway} dev up0 proto 12 metric 32`)
          const after = await drive(ns, [
            { op: "routesTo", arg: a },
            { op: "isTaken", arg: a }
          ])
          assert.deepStrictEqual(
            routes(after[0]),
            sorted([
              ours(a),
              {
                host: a,
                origin: "other",
                protocol: 12,
                table: 254,
                metric: 32,
                device: uplink,
                nextHop: family.gateway
              }
            ])
          )
          assert.strictEqual(ok(after[1]), true)
        })

        it("routesTo reports every next hop of an ECMP competitor", async () => {
          const ns = await lab()
          const a = host(21)
          const uplink = await ifindex(ns, "up0")
          await ip(
            ns,
            `route add ${a}/${bits} proto 12 metric 32 nexthop via ${family.gateway} dev up0 nexthop via ${family.gateway2} dev up0`
          )
          const results = await drive(ns, [
            { op: "claim", arg: a },
            { op: "routesTo", arg: a }
          ])
          const other = {
            host: a,
            origin: "other",
            protocol: 12,
            table: 254,
            metric: 32,
            device: uplink
          } as const
          assert.deepStrictEqual(
            routes(results[1]),
            sorted([ours(a), { ...other, nextHop: family.gateway }, { ...other, nextHop: family.gateway2 }])
          )
        })

        it("routesTo without ours lists only the competitor", async () => {
          const ns = await lab()
          const a = host(22)
          await ipf(ns, `route add ${a}/${bits} via ${family.gateway} proto 12 metric 32`)
          const results = await drive(ns, [{ op: "routesTo", arg: a }])
          assert.deepStrictEqual(
            routes(results[0]).map((route) => route.origin),
            ["other"]
          )
        })

        it("routesTo finds ours behind a better non-ours route on our own device (slow path)", async () => {
          const ns = await lab()
          const a = host(23)
          await ipf(ns, `route add ${a}/${bits} dev lo proto 4 metric 10`)
          const results = await drive(ns, [
            { op: "claim", arg: a },
            { op: "routesTo", arg: a }
          ])
          assert.deepStrictEqual(
            routes(results[1]),
            sorted([ours(a), { host: a, origin: "other", protocol: 4, table: 254, metric: 10, device: 1 }])
          )
        })

        it("documented miss: a competitor with a WORSE metric than ours is not listed", async () => {
          const ns = await lab()
          const a = host(24)
          await ipf(ns, `route add ${a}/${bits} via ${family.gateway} proto 12 metric 5000`)
          const results = await drive(ns, [
            { op: "claim", arg: a },
            { op: "routesTo", arg: a },
            { op: "hostRoutesIn", arg: family.pool }
          ])
          assert.deepStrictEqual(routes(results[1]), [ours(a)])
          assert.deepStrictEqual(
            routes(results[2]).map((route) => `${route.origin}:${route.metric}`),
            ["other:5000", "ours:4096"]
          )
        })

        it("device by name and by index", async () => {
          const ns = await lab()
          const pod = await ifindex(ns, "pod0")
          const byName = await drive(
            ns,
            [
              { op: "claim", arg: host(30) },
              { op: "routesTo", arg: host(30) }
            ],
            { device: "pod0" }
          )
          const byIndex = await drive(
            ns,
            [
              { op: "claim", arg: host(31) },
              { op: "routesTo", arg: host(31) }
            ],
            { device: pod }
          )
          assert.deepStrictEqual(routes(byName[1]), [ours(host(30), { device: pod })])
          assert.deepStrictEqual(routes(byIndex[1]), [ours(host(31), { device: pod })])
          assert.match(await ipf(ns, `-N route show ${host(30)}/${bits}`), /dev pod0 proto 192/)
          assert.match(await ipf(ns, `-N route show ${host(31)}/${bits}`), /dev pod0 proto 192/)
        })

        it("a non-main table: claim, see, release there; main-table routes of ours are not ours", async () => {
          const ns = await lab()
          const options = { table: 100 }
          await ipf(ns, `route add ${host(41)}/${bits} dev lo proto 192 metric 4096`)
          const results = await drive(
            ns,
            [
              { op: "claim", arg: host(40) },
              { op: "routesTo", arg: host(40) },
              { op: "isTaken", arg: host(40) },
              { op: "isTaken", arg: host(42) },
              { op: "routesTo", arg: host(41) }
            ],
            options
          )
          assert.strictEqual(ok(results[0]), null)
          assert.deepStrictEqual(routes(results[1]), [ours(host(40), { table: 100 })])
          assert.deepStrictEqual(results.slice(2, 4), [{ ok: true }, { ok: false }])
          assert.deepStrictEqual(
            routes(results[4]).map((route) => `${route.origin}:${route.table}`),
            ["other:254"]
          )
          assert.match(
            await ipf(ns, `-N route show table 100 ${host(40)}/${bits}`),
            /proto 192 .*metric 4096/
          )
          assert.strictEqual(await ipf(ns, `-N route show table main ${host(40)}/${bits}`), "")

          // with a policy rule sending the pool to table 100, lookups answer from it
          await ipf(ns, `rule add to ${family.pool} lookup 100 pref 100`)
          await ipf(ns, `route add ${host(40)}/${bits} via ${family.gateway} table 100 proto 12 metric 32`)
          const ruled = await drive(
            ns,
            [
              { op: "routesTo", arg: host(40) },
              { op: "release", arg: host(40) },
              { op: "routesTo", arg: host(40) }
            ],
            options
          )
          assert.deepStrictEqual(
            routes(ruled[0]).map((route) => `${route.origin}:${route.table}:${route.protocol}`),
            ["other:100:12", "ours:100:192"]
          )
          assert.deepStrictEqual(
            routes(ruled[2]).map((route) => `${route.origin}:${route.protocol}`),
            ["other:12"]
          )
          assert.match(await ipf(ns, `-N route show table 100 ${host(40)}/${bits}`), /proto 12/)
          assert.notMatch(await ipf(ns, `-N route show table 100 ${host(40)}/${bits}`), /proto 192/)
        })

        it("hostRoutesIn lists host routes inside the prefix only, with origin", async () => {
          const ns = await lab()
          await ipf(ns, `route add ${host(51)}/${bits} via ${family.gateway} proto 12 metric 32`)
          await ipf(ns, `route add ${family.pool} via ${family.gateway} proto 12`)
          const outside = bits === 32 ? "100.65.0.1" : "fd01::1"
          await ipf(ns, `route add ${outside}/${bits} via ${family.gateway} proto 12 metric 32`)
          const results = await drive(ns, [
            { op: "claim", arg: host(50) },
            { op: "hostRoutesIn", arg: family.pool }
          ])
          assert.deepStrictEqual(
            routes(results[1]).map((route) => `${route.host}:${route.origin}`),
            [`${host(51)}:other`, `${host(50)}:ours`]
          )
        })

        it("a reject HOST route is taken: EINVAL, EHOSTUNREACH, EACCES never mean 'no route'", async () => {
          const ns = await lab()
          await ipf(ns, `route add blackhole ${host(60)}/${bits}`)
          await ipf(ns, `route add unreachable ${host(61)}/${bits}`)
          await ipf(ns, `route add prohibit ${host(62)}/${bits}`)
          // a covering blackhole: every lookup inside the pool now answers EINVAL
          await ipf(ns, `route add blackhole ${family.pool}`)
          const results = await drive(ns, [
            { op: "isTaken", arg: host(60) },
            { op: "isTaken", arg: host(61) },
            { op: "isTaken", arg: host(62) },
            { op: "routesTo", arg: host(60) },
            { op: "isTaken", arg: host(63) },
            { op: "routesTo", arg: host(63) },
            { op: "claim", arg: host(63) },
            { op: "isTaken", arg: host(63) },
            { op: "routesTo", arg: host(63) }
          ])
          assert.deepStrictEqual(results.slice(0, 3), [{ ok: true }, { ok: true }, { ok: true }])
          assert.deepStrictEqual(
            routes(results[3]).map((route) => `${route.host}:${route.origin}`),
            [`${host(60)}:other`]
          )
          // only the covering blackhole: the dump confirms "absent"
          assert.deepStrictEqual(results.slice(4, 8), [{ ok: false }, { ok: [] }, { ok: null }, { ok: true }])
          assert.deepStrictEqual(routes(results[8]), [ours(host(63))])
        })

        it("a missing device: reading and releasing work; claim fails with DeviceMissing and inserts nothing", async () => {
          const ns = await lab()
          // a claim of ours made earlier, and a learned competitor (routesTo looks via our device for it)
          await ipf(ns, `route add ${host(70)}/${bits} dev lo proto 192 metric 4096`)
          await ipf(ns, `route add ${host(72)}/${bits} via ${family.gateway} proto 12 metric 32`)
          const steps: ReadonlyArray<Step> = [
            { op: "isTaken", arg: host(70) },
            { op: "routesTo", arg: host(70) },
            { op: "routesTo", arg: host(72) },
            { op: "hostRoutesIn", arg: family.pool },
            { op: "claim", arg: host(71) },
            { op: "isTaken", arg: host(71) },
            { op: "release", arg: host(70) },
            { op: "isTaken", arg: host(70) }
          ]
          const results = await drive(ns, steps, { device: "gone0" })
          assert.deepStrictEqual(results.slice(0, 2), [{ ok: true }, { ok: [ours(host(70))] }])
          assert.deepStrictEqual(
            routes(results[2]).map((route) => `${route.origin}:${route.protocol}`),
            ["other:12"]
          )
          assert.deepStrictEqual(
            routes(results[3]).map((route) => `${route.host}:${route.origin}`),
            [`${host(72)}:other`, `${host(70)}:ours`]
          )
          const missing = tableError(results[4])
          assert.strictEqual(missing.operation, "claim")
          assert.strictEqual(missing.reason, "DeviceMissing")
          assert.include(missing.message, "gone0")
          assert.deepStrictEqual(results.slice(5), [{ ok: false }, { ok: null }, { ok: false }])
          assert.strictEqual(await ipf(ns, `-N route show proto 192`), "")

          // the same with an interface index that does not exist (the original plugin's LINK_INDEX)
          const byIndex = await drive(ns, [{ op: "claim", arg: host(71) }], { device: 9999 })
          assert.strictEqual(tableError(byIndex[0]).reason, "DeviceMissing")
          assert.include(tableError(byIndex[0]).message, "9999")
          assert.strictEqual(await ipf(ns, `-N route show proto 192`), "")
        })

        it("the device disappears after a claim (ip link del): release works, the next claim says DeviceMissing", async () => {
          const ns = await lab()
          const results = await drive(
            ns,
            [
              { op: "claim", arg: host(80) },
              { op: "routesTo", arg: host(80) },
              { op: "sh", arg: "ip link del pod0" },
              { op: "routesTo", arg: host(80) },
              { op: "isTaken", arg: host(80) },
              { op: "release", arg: host(80) },
              { op: "hostRoutesIn", arg: family.pool },
              { op: "claim", arg: host(81) }
            ],
            { device: "pod0" }
          )
          assert.strictEqual(ok(results[0]), null)
          assert.strictEqual(routes(results[1]).length, 1)
          // the kernel removed the routes through the device with it
          assert.deepStrictEqual(results.slice(2, 7), [
            { ok: null },
            { ok: [] },
            { ok: false },
            { ok: null },
            { ok: [] }
          ])
          const missing = tableError(results[7])
          assert.strictEqual(missing.operation, "claim")
          assert.strictEqual(missing.reason, "DeviceMissing")
          assert.strictEqual(await ipf(ns, `-N route show proto 192`), "")
        })

        it("sourceTowards returns the source address the kernel picks, none when unreachable", async () => {
          const ns = await lab()
          const unreachable = bits === 32 ? "203.0.113.1" : "2001:db8::1"
          const results = await drive(ns, [
            { op: "sourceTowards", arg: family.gateway },
            { op: "sourceTowards", arg: unreachable }
          ])
          assert.deepStrictEqual(results, [{ ok: family.source }, { ok: null }])
        })
      })
    }

    it("a dump and lookups at once on the one socket: every call answers, the dump whole", async () => {
      // a dump of 2,000 routes comes in many parts; replies to the lookups sent meanwhile arrive
      // between them (a dual-stack ADD claims both families at once and may dump one of them)
      const ns = await lab()
      const batch = join(mkdtempSync(join(tmpdir(), "rtipam-batch-")), "routes")
      writeFileSync(
        batch,
        Array.from(
          { length: 2000 },
          (_, i) => `route add 100.64.${16 + (i >> 8)}.${i & 255}/32 dev pod0 proto 12\n`
        ).join("")
      )
      try {
        await ns.run("ip", ["-batch", batch])
      } finally {
        rmSync(dirname(batch), { recursive: true, force: true })
      }
      const lookups = Array.from(
        { length: 20 },
        (_, i): Step => ({ op: "isTaken", arg: `100.64.${16 + i}.1` })
      )
      const round: Step = {
        op: "concurrently",
        steps: [
          { op: "hostRoutesIn", arg: "100.64.0.0/16" },
          ...lookups,
          { op: "hostRoutesIn", arg: "100.64.0.0/16" }
        ]
      }
      const results = await drive(ns, [round, round, round])
      for (const result of results) {
        const inner = ok(result) as ReadonlyArray<StepResult>
        const [first, ...rest] = inner
        const last = rest.pop()
        for (const dump of [first, last]) {
          const listed = ok(dump) as ReadonlyArray<RouteJson>
          assert.strictEqual(listed.length, 2000)
        }
        // 100.64.16.1 .. 100.64.23.1 are among the 2,000 routes, 100.64.24.1 .. 100.64.35.1 are not
        assert.deepStrictEqual(
          rest.map((lookup) => ok(lookup)),
          lookups.map((_, i) => 16 + i < 24)
        )
      }
    })

    it("performance: with 65,536 host routes, isTaken and routesTo answer without dumping", async () => {
      const ns = await Netns.create()
      open.push(ns)
      const result = await ns.exec(node, [measure, "65536"], { timeoutMs: 120_000 })
      assert.strictEqual(result.code, 0, result.stderr)
      const numbers = JSON.parse(result.stdout) as {
        wrongAnswers: number
        hostRoutesInListed: number
        isTakenLearnedMs: { p50: number }
        isTakenFreeMs: { p50: number }
        routesToConflictMs: { p50: number }
        hostRoutesInMs: { p50: number }
      }
      console.info(`NetlinkRouteTable with 65,536 host routes: ${result.stdout.trim()}`)
      assert.strictEqual(numbers.wrongAnswers, 0)
      assert.strictEqual(numbers.hostRoutesInListed, 65_536 + 200)
      // a dump of this table costs hundreds of ms; a lookup well under one
      assert.isBelow(numbers.isTakenLearnedMs.p50, 2)
      assert.isBelow(numbers.isTakenFreeMs.p50, 2)
      assert.isBelow(numbers.routesToConflictMs.p50, 5)
      assert.isBelow(numbers.routesToConflictMs.p50 * 20, numbers.hostRoutesInMs.p50)
    }, 180_000)

    it("a lost reply fails the call after the timeout with a RouteTableError naming the operation", async () => {
      const ns = await lab()
      const timeouts = { requestTimeout: 200, dumpTimeout: 300 }
      const cases = [
        { stall: "RTM_GETROUTE", step: { op: "isTaken", arg: "100.64.0.90" }, operation: "lookup", ms: 200 },
        { stall: "RTM_GETROUTE", step: { op: "routesTo", arg: "fd00::90" }, operation: "lookup", ms: 200 },
        {
          stall: "RTM_GETROUTE",
          step: { op: "hostRoutesIn", arg: "100.64.0.0/24" },
          operation: "dump",
          ms: 300
        },
        {
          stall: "RTM_GETROUTE",
          step: { op: "sourceTowards", arg: "198.18.0.2" },
          operation: "sourceTowards",
          ms: 200
        },
        { stall: "RTM_NEWROUTE", step: { op: "claim", arg: "100.64.0.91" }, operation: "claim", ms: 200 },
        { stall: "RTM_DELROUTE", step: { op: "release", arg: "100.64.0.92" }, operation: "release", ms: 200 },
        { stall: "RTM_GETLINK", step: { op: "claim", arg: "100.64.0.93" }, operation: "claim", ms: 200 }
      ] as const
      await ip(ns, "route add 100.64.0.92/32 dev lo proto 192 metric 4096")
      for (const { stall, step, operation, ms } of cases) {
        const results = await drive(ns, [step], { ...timeouts, device: "pod0" }, { stall: [stall] })
        const error = tableError(results[0])
        const context = `${stall} ${step.op}: ${JSON.stringify(error)}`
        assert.strictEqual(error.operation, operation, context)
        assert.strictEqual(error.reason, "TimedOut", context)
        assert.include(error.message, `${stall} within ${ms} ms`, context)
      }
      // the lost replies were real: the kernel did insert .91 and delete .92
      assert.match(await ip(ns, "-N route show 100.64.0.91/32"), /proto 192/)
      assert.strictEqual(await ip(ns, "-N route show 100.64.0.92/32"), "")
      // negative control: the same calls with every reply delivered
      const answered = await drive(
        ns,
        cases.map((c) => c.step),
        { ...timeouts, device: "pod0" }
      )
      assert.deepStrictEqual(answered.slice(0, 2), [{ ok: false }, { ok: [] }])
      assert.deepStrictEqual(
        routes(answered[2]).map((route) => route.host),
        ["100.64.0.91"]
      )
      assert.deepStrictEqual(answered.slice(3), [
        { ok: "198.18.0.1" },
        { error: { _tag: "HostTaken", host: "100.64.0.91" } },
        { ok: null },
        { ok: null }
      ])
    })

    it("a starved process reads a reply that arrived before it calls the request lost", async () => {
      const ns = await lab()
      // after each request the driver blocks its event loop for 3x the timeout (a loaded node):
      // the reply waits in the socket while the timer expires
      const results = await drive(
        ns,
        [
          { op: "isTaken", arg: "100.64.0.95" },
          { op: "claim", arg: "100.64.0.95" },
          { op: "routesTo", arg: "100.64.0.95" },
          { op: "release", arg: "100.64.0.95" },
          { op: "hostRoutesIn", arg: "100.64.0.0/24" }
        ],
        { requestTimeout: 200, dumpTimeout: 200 },
        { starve: { ms: 600 } }
      )
      assert.deepStrictEqual(results, [
        { ok: false },
        { ok: null },
        { ok: [ours("100.64.0.95")] },
        { ok: null },
        { ok: [] }
      ])
    })

    it("configuration errors: protocol 0, a timeout of 0; a missing device is not one", async () => {
      const ns = await lab()
      const noDevice = await ns.exec(node, [driver], {
        stdin: JSON.stringify({ options: { device: "nosuchdev" }, steps: [] })
      })
      assert.deepStrictEqual(JSON.parse(noDevice.stdout), { results: [] })
      for (const options of [{ protocol: 0 }, { requestTimeout: 0 }]) {
        const result = await ns.exec(node, [driver], { stdin: JSON.stringify({ options, steps: [] }) })
        const output = JSON.parse(result.stdout) as { layerError?: { _tag: string; operation: string } }
        assert.strictEqual(output.layerError?._tag, "RouteTableError")
        assert.strictEqual(output.layerError?.operation, "configure")
      }
    })

    it("the driver refuses to run outside the namespace the test intended", async () => {
      const ns = await lab()
      // `env` inside the namespace overrides what Netns.exec sets for the driver
      const result = await ns.exec("env", ["RTIPAM_NETNS_EXPECTED=net:[1]", node, driver], {
        stdin: JSON.stringify({ steps: [{ op: "claim", arg: "100.64.0.99" }] })
      })
      assert.notStrictEqual(result.code, 0)
      assert.match(result.stderr, /refusing to touch routes/)
      assert.strictEqual(await ip(ns, "-N route show 100.64.0.99/32"), "")
    })
  }
)
