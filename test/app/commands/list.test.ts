// `list`: grouping routes and owner records into claims (conflicts, orphans, missing routes), the table and the JSON.
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Effect from "effect/Effect"
import { listFlags } from "../../../src/app/commands/list.ts"
import { formatHolder, holderOf, holderToJson } from "../../../src/app/listing/AddressHolder.ts"
import { type CountedPool, formatTotals, nodeTotals, poolTotals } from "../../../src/app/listing/Capacity.ts"
import {
  type ClaimListing,
  formatSummary,
  formatTable,
  type ListingInput,
  listClaims,
  listingToJson
} from "../../../src/app/listing/ClaimListing.ts"
import { formatPrometheus } from "../../../src/app/listing/PrometheusText.ts"
import type { Attachment } from "../../../src/domain/Attachments.ts"
import { type Cidr, contains, formatIp, type Ip, parseCidr, parseIp, sizeOf } from "../../../src/domain/Ip.ts"
import type { Route } from "../../../src/domain/Route.ts"
import { parseErrorsOf, parseWith, runCli } from "./CliHarness.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const cidr = (text: string): Cidr => Option.getOrThrow(parseCidr(text))

const ours = (host: string): Route => ({
  host: at(host),
  origin: "ours",
  protocol: 192,
  table: 254,
  metric: 4096,
  device: 1
})
const learned = (host: string, via: string): Route => ({
  host: at(host),
  origin: "other",
  protocol: 12,
  table: 254,
  metric: 32,
  device: 7,
  nextHop: at(via)
})
const record = (containerId: string, addresses: ReadonlyArray<string>, pending: ReadonlyArray<string> = []) =>
  ({
    network: "pods",
    containerId,
    ifname: "eth0",
    addresses: addresses.map(at),
    pending: pending.map(at)
  }) satisfies Attachment

const input = (routes: ReadonlyArray<Route>, records: ReadonlyArray<Attachment>): ListingInput => ({
  network: "pods",
  subnets: [cidr("100.64.0.0/24"), cidr("fd00:64::/120")],
  protocol: 192,
  table: 254,
  metric: 4096,
  routes,
  records
})

const names = new Map([
  [1, "lo"],
  [7, "eth1"]
])

/** The example of docs/list.md: two owned claims, a learned one, a conflict, an orphan, a record without its route. */
const example = (): ClaimListing =>
  listClaims(
    input(
      [
        ours("100.64.0.37"),
        learned("100.64.0.9", "198.18.0.2"),
        ours("100.64.0.197"),
        learned("100.64.0.197", "198.18.0.3"),
        ours("100.64.0.77"),
        ours("fd00:64::2e"),
        learned("100.64.1.5", "198.18.0.2") // outside the subnets: not listed
      ],
      [
        record("c1", ["100.64.0.197"]),
        record("c2", ["100.64.0.37", "fd00:64::2e"]),
        record("c3", ["100.64.0.81"])
      ]
    )
  )

/** The two routes of the conflict at 100.64.0.197 in `--json` and `--ip --json`: ours and n3's. */
const conflictRoutes = [
  {
    origin: "ours",
    nextHop: null,
    nodeName: null,
    protocol: 192,
    protocolName: null,
    table: 254,
    metric: 4096,
    device: "lo"
  },
  {
    origin: "learned",
    nextHop: "198.18.0.3",
    nodeName: null,
    protocol: 12,
    protocolName: null,
    table: 254,
    metric: 32,
    device: "eth1"
  }
]

describe("list", () => {
  describe("listClaims", () => {
    it("groups by address in order, owners from records, problems flagged", () => {
      const listing = example()
      assert.deepStrictEqual(
        listing.claims.map((c) => [
          formatIp(c.address),
          c.routes.map((r) => r.origin),
          c.owner?.containerId ?? null,
          c.problems
        ]),
        [
          ["100.64.0.9", ["other"], null, []],
          ["100.64.0.37", ["ours"], "c2", []],
          ["100.64.0.77", ["ours"], null, ["orphan"]],
          ["100.64.0.81", [], "c3", ["missing"]],
          ["100.64.0.197", ["ours", "other"], "c1", ["conflict"]],
          ["fd00:64::2e", ["ours"], "c2", []]
        ]
      )
      assert.deepStrictEqual(listing.summary, {
        ours: 4,
        learned: 2,
        conflicts: 1,
        orphans: 1,
        missing: 1,
        stale: 0,
        corrupt: 0,
        legacy: 0
      })
    })

    it("records of before the last reboot show as stale, records moved aside as corrupt; a live owner wins", () => {
      const listing = listClaims({
        ...input(
          [ours("100.64.0.5"), ours("100.64.0.6")],
          [
            { ...record("old", ["100.64.0.5", "100.64.0.7"]), boot: "b1" },
            { ...record("new", ["100.64.0.5"]), boot: "b2" }
          ]
        ),
        boot: "b2",
        quarantined: [
          {
            network: "pods",
            name: ".corrupt.bad@eth0.json.1700000000000",
            reason: "not JSON",
            addresses: [at("100.64.0.6")]
          }
        ]
      })
      assert.deepStrictEqual(
        listing.claims.map((c) => [
          formatIp(c.address),
          c.owner?.containerId,
          c.owner?.state ?? null,
          c.problems
        ]),
        [
          ["100.64.0.5", "new", null, []],
          ["100.64.0.6", "bad", "corrupt", ["corrupt"]],
          ["100.64.0.7", "old", "stale", ["stale"]]
        ]
      )
      assert.strictEqual(listing.summary.stale, 1)
      assert.strictEqual(listing.summary.corrupt, 1)
      assert.include(formatTable(listing, names), "bad/eth0 (corrupt)")
    })

    it("a pending address with our route is owned (pending), one without is missing; duplicates count once", () => {
      const listing = listClaims(
        input([ours("100.64.0.5"), ours("100.64.0.5")], [record("c9", [], ["100.64.0.5", "fd00:64::5"])])
      )
      assert.deepStrictEqual(
        listing.claims.map((c) => [formatIp(c.address), c.routes.length, c.owner?.pending, c.problems]),
        [
          ["100.64.0.5", 1, true, []],
          ["fd00:64::5", 0, true, ["missing"]]
        ]
      )
      assert.deepStrictEqual(listing.summary, {
        ours: 1,
        learned: 0,
        conflicts: 0,
        orphans: 0,
        missing: 1,
        stale: 0,
        corrupt: 0,
        legacy: 0
      })
    })

    it("two learned routes to one address (two other nodes) are a conflict without owner", () => {
      const listing = listClaims(
        input([learned("100.64.0.8", "198.18.0.2"), learned("100.64.0.8", "198.18.0.3")], [])
      )
      assert.deepStrictEqual(listing.claims[0]!.problems, ["conflict"])
      assert.isUndefined(listing.claims[0]!.owner)
      assert.strictEqual(listing.summary.conflicts, 1)
    })
  })

  describe("formatTable", () => {
    it("aligned rows, one per route, then the summary line", () => {
      const text = formatTable(example(), names)
      assert.strictEqual(
        text,
        [
          "network pods: 100.64.0.0/24, fd00:64::/120 (ours: protocol 192, table 254, metric 4096)",
          "",
          "ADDRESS       ORIGIN   NEXT HOP    PROTO  METRIC  DEVICE  OWNER    PROBLEMS",
          "100.64.0.9    learned  198.18.0.2  12     32      eth1    -",
          "100.64.0.37   ours     this node   192    4096    lo      c2/eth0",
          "100.64.0.77   ours     this node   192    4096    lo      -        orphan",
          "100.64.0.81   -        -           -      -       -       c3/eth0  missing",
          "100.64.0.197  ours     this node   192    4096    lo      c1/eth0  conflict",
          "100.64.0.197  learned  198.18.0.3  12     32      eth1    -        conflict",
          "fd00:64::2e   ours     this node   192    4096    lo      c2/eth0",
          "",
          "4 ours, 2 learned, 1 conflict, 1 orphan, 1 missing"
        ].join("\n")
      )
    })

    it("unknown device index as #N; empty listing says so; plural summary", () => {
      const text = formatTable(listClaims(input([ours("100.64.0.5")], [])), new Map())
      assert.include(text, "#1")
      assert.include(formatTable(listClaims(input([], [])), names), "no host routes in these subnets")
      assert.strictEqual(
        formatSummary({
          ours: 0,
          learned: 0,
          conflicts: 2,
          orphans: 0,
          missing: 0,
          stale: 0,
          corrupt: 0,
          legacy: 0
        }),
        "0 ours, 0 learned, 2 conflicts, 0 orphans, 0 missing"
      )
    })
  })

  describe("pod names", () => {
    const long = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
    const withPods = () =>
      listClaims(
        input(
          [ours("100.64.0.5"), ours("100.64.0.6"), ours("100.64.0.7")],
          [
            { ...record(long, ["100.64.0.5"]), pod: { namespace: "shop", name: "cart-7d9f" } },
            { ...record("podman1", ["100.64.0.6"]), pod: { name: "web" } },
            record("plain", ["100.64.0.7"])
          ]
        )
      )

    it("OWNER shows namespace/name and the interface instead of a 64-character ID; the name alone without a namespace", () => {
      const rows = formatTable(withPods(), names).split("\n")
      assert.deepStrictEqual(rows.slice(2, 6), [
        "ADDRESS     ORIGIN  NEXT HOP   PROTO  METRIC  DEVICE  OWNER                PROBLEMS",
        "100.64.0.5  ours    this node  192    4096    lo      shop/cart-7d9f eth0",
        "100.64.0.6  ours    this node  192    4096    lo      web eth0",
        "100.64.0.7  ours    this node  192    4096    lo      plain/eth0"
      ])
      assert.notInclude(formatTable(withPods(), names), long)
    })

    it("--json keeps the container ID and adds the pod", () => {
      const claims = listingToJson(withPods(), names).claims
      assert.deepStrictEqual(claims[0]!.owner, {
        network: "pods",
        containerId: long,
        ifname: "eth0",
        pod: { namespace: "shop", name: "cart-7d9f" },
        pending: false
      })
      assert.deepStrictEqual(claims[1]!.owner?.pod, { name: "web" })
      assert.notProperty(claims[2]!.owner, "pod")
    })

    it("--ip names the pod before the container ID", () => {
      const pools: ReadonlyArray<CountedPool> = [
        { label: "100.64.0.0/24", allocatable: 254n, contains: (a) => contains(cidr("100.64.0.0/24"), a) }
      ]
      const holder = holderOf(withPods(), at("100.64.0.5"), pools)
      assert.include(formatHolder(holder, names), `  owner:    pod shop/cart-7d9f, pods/${long}/eth0\n`)
      const plain = holderOf(withPods(), at("100.64.0.7"), pools)
      assert.include(formatHolder(plain, names), "  owner:    pods/plain/eth0\n")
    })
  })

  describe("listingToJson", () => {
    it("addresses as text, device names, owner and summary", () => {
      const json = listingToJson(example(), names)
      assert.strictEqual(json.network, "pods")
      assert.deepStrictEqual(json.subnets, ["100.64.0.0/24", "fd00:64::/120"])
      const conflict = json.claims.find((c) => c.address === "100.64.0.197")!
      assert.deepStrictEqual(conflict, {
        address: "100.64.0.197",
        routes: conflictRoutes,
        owner: { network: "pods", containerId: "c1", ifname: "eth0", pending: false },
        problems: ["conflict"]
      })
      assert.deepStrictEqual(JSON.parse(JSON.stringify(json)).summary, {
        ours: 4,
        learned: 2,
        conflicts: 1,
        orphans: 1,
        missing: 1,
        stale: 0,
        corrupt: 0,
        legacy: 0
      })
    })
  })

  describe("totals", () => {
    /** Both subnets whole (the v4 /24 as 254 allocatable, as makePool counts it). */
    const pools: ReadonlyArray<CountedPool> = [
      { label: "100.64.0.0/24", allocatable: 254n, contains: (a) => contains(cidr("100.64.0.0/24"), a) },
      {
        label: "fd00:64::/120",
        allocatable: sizeOf(cidr("fd00:64::/120")),
        contains: (a) => contains(cidr("fd00:64::/120"), a)
      }
    ]

    it("per pool: in use here (a route of ours), elsewhere (only learned), free; per next hop", () => {
      const listing = example()
      assert.deepStrictEqual(poolTotals(listing, pools), [
        // here: .37, .77 (orphan), .197 (conflict: ours wins); elsewhere: .9; .81 has no route
        {
          pool: "100.64.0.0/24",
          allocatable: 254,
          inUseHere: 3,
          inUseElsewhere: 1,
          free: 250,
          freePercent: 98.4
        },
        {
          pool: "fd00:64::/120",
          allocatable: 256,
          inUseHere: 1,
          inUseElsewhere: 0,
          free: 255,
          freePercent: 99.6
        }
      ])
      assert.deepStrictEqual(nodeTotals(listing), [
        { node: "this node", protocols: [192], addresses: 4 },
        { node: "198.18.0.2", protocols: [12], addresses: 1 },
        { node: "198.18.0.3", protocols: [12], addresses: 1 }
      ])
    })

    it("the totals table (golden)", () => {
      const listing = example()
      assert.strictEqual(
        formatTotals(poolTotals(listing, pools), nodeTotals(listing)),
        [
          "POOL           ALLOCATABLE  IN USE HERE  IN USE ELSEWHERE  FREE  FREE %",
          "100.64.0.0/24          254            3                 1   250    98.4",
          "fd00:64::/120          256            1                 0   255    99.6",
          "",
          "NODE (NEXT HOP)  PROTOCOL  ADDRESSES",
          "this node        192               4",
          "198.18.0.2       12                1",
          "198.18.0.3       12                1"
        ].join("\n")
      )
    })

    it("--ip: who holds one address (a conflict, a learned claim, a free address)", () => {
      const listing = example()
      const conflict = holderOf(listing, at("100.64.0.197"), pools)
      assert.strictEqual(conflict.heldBy, "this node and another node")
      assert.deepStrictEqual(holderToJson(conflict, listing, names), {
        address: "100.64.0.197",
        heldBy: "this node and another node",
        pools: ["100.64.0.0/24"],
        routes: conflictRoutes,
        owner: { network: "pods", containerId: "c1", ifname: "eth0", pending: false },
        problems: ["conflict"]
      })
      const learned = holderOf(listing, at("100.64.0.9"), pools)
      assert.strictEqual(learned.heldBy, "another node")
      assert.match(formatHolder(learned, names), /learned, next hop 198\.18\.0\.2 \(the node holding it\)/)
      assert.match(formatHolder(learned, names), /owner: +no owner record on this node/)
      const free = holderOf(listing, at("100.64.0.100"), pools)
      assert.strictEqual(free.heldBy, "nobody")
      assert.strictEqual(
        formatHolder(free, names),
        [
          "100.64.0.100: held by nobody",
          "  pool:     100.64.0.0/24",
          "  route:    none",
          "  owner:    no owner record on this node",
          "  problems: none"
        ].join("\n")
      )
    })

    it("--prometheus: node-exporter text format, every metric with HELP and TYPE, labels escaped", () => {
      const listing = example()
      const text = formatPrometheus({
        network: 'p"ods',
        pools: poolTotals(listing, pools).slice(0, 1),
        nodes: nodeTotals(listing).slice(0, 2),
        summary: { ...listing.summary, stale: 2, corrupt: 1 },
        fabric: { established: 2, required: 3, healthy: false }
      })
      const samples = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))
      assert.deepStrictEqual(samples, [
        'routetable_ipam_pool_addresses{network="p\\"ods",pool="100.64.0.0/24"} 254',
        'routetable_ipam_pool_addresses_in_use{network="p\\"ods",pool="100.64.0.0/24",where="here"} 3',
        'routetable_ipam_pool_addresses_in_use{network="p\\"ods",pool="100.64.0.0/24",where="elsewhere"} 1',
        'routetable_ipam_node_addresses_in_use{network="p\\"ods",node="this node",node_name=""} 4',
        'routetable_ipam_node_addresses_in_use{network="p\\"ods",node="198.18.0.2",node_name=""} 1',
        'routetable_ipam_conflicts{network="p\\"ods"} 1',
        'routetable_ipam_orphans{network="p\\"ods"} 1',
        'routetable_ipam_missing{network="p\\"ods"} 1',
        'routetable_ipam_stale_records{network="p\\"ods"} 2',
        'routetable_ipam_corrupt_records{network="p\\"ods"} 1',
        'routetable_ipam_legacy{network="p\\"ods"} 0',
        'routetable_ipam_fabric_probe_ok{network="p\\"ods"} 1',
        'routetable_ipam_fabric_sessions_up{network="p\\"ods"} 2',
        'routetable_ipam_fabric_sessions_required{network="p\\"ods"} 3'
      ])
      // every metric name has exactly one HELP and one TYPE gauge line before its samples
      const names = [...new Set(samples.map((l) => l.slice(0, l.indexOf("{"))))]
      for (const name of names) {
        assert.include(text, `# HELP ${name} `)
        assert.include(text, `# TYPE ${name} gauge\n${name}{`)
      }
      assert.isTrue(text.endsWith("\n"))
      const withoutFabric = formatPrometheus({
        network: "pods",
        pools: [],
        nodes: [],
        summary: listing.summary,
        fabric: undefined
      })
      assert.notInclude(withoutFabric, "fabric")
      assert.include(
        formatPrometheus({
          network: "pods",
          pools: [],
          nodes: [],
          summary: listing.summary,
          fabric: "error"
        }),
        'routetable_ipam_fabric_probe_ok{network="pods"} 0'
      )
      assert.notInclude(withoutFabric, "add_outcomes", "no counters given: no counter metric")
    })

    it("--prometheus: ADD outcome counters as one counter metric, one sample per network and outcome", () => {
      const text = formatPrometheus({
        network: "",
        pools: [],
        nodes: [],
        summary: example().summary,
        fabric: undefined,
        addOutcomes: [
          { network: "pods", counts: { won: 7, lostRaces: 2, refused: 1, exhausted: 3, tryAgainLater: 4 } },
          { network: "b", counts: { won: 1, lostRaces: 0, refused: 0, exhausted: 0, tryAgainLater: 0 } }
        ]
      })
      const lines = text.split("\n")
      const start = lines.indexOf("# TYPE routetable_ipam_add_outcomes_total counter")
      assert.isAbove(start, 0)
      assert.match(lines[start - 1]!, /^# HELP routetable_ipam_add_outcomes_total /)
      assert.deepStrictEqual(lines.slice(start + 1, start + 11), [
        'routetable_ipam_add_outcomes_total{network="pods",outcome="won"} 7',
        'routetable_ipam_add_outcomes_total{network="pods",outcome="lost_race"} 2',
        'routetable_ipam_add_outcomes_total{network="pods",outcome="refused"} 1',
        'routetable_ipam_add_outcomes_total{network="pods",outcome="exhausted"} 3',
        'routetable_ipam_add_outcomes_total{network="pods",outcome="try_again_later"} 4',
        'routetable_ipam_add_outcomes_total{network="b",outcome="won"} 1',
        'routetable_ipam_add_outcomes_total{network="b",outcome="lost_race"} 0',
        'routetable_ipam_add_outcomes_total{network="b",outcome="refused"} 0',
        'routetable_ipam_add_outcomes_total{network="b",outcome="exhausted"} 0',
        'routetable_ipam_add_outcomes_total{network="b",outcome="try_again_later"} 0'
      ])
    })
  })

  describe("flags", () => {
    it.effect("repeatable --pool, --json, --ip, --prometheus, typed --protocol", () =>
      Effect.gen(function* () {
        const flags = yield* parseWith(listFlags, [
          "--pool",
          "100.64.0.0/24",
          "--pool=fd00::/120",
          "--json",
          "--protocol",
          "200",
          "--ip",
          "100.64.0.9"
        ])
        assert.deepStrictEqual(flags.pools, ["100.64.0.0/24", "fd00::/120"])
        assert.isTrue(flags.json)
        assert.isFalse(flags.prometheus)
        assert.deepStrictEqual(flags.protocol._tag === "Some" ? flags.protocol.value : undefined, 200)
        assert.deepStrictEqual(flags.ip._tag === "Some" ? flags.ip.value : undefined, "100.64.0.9")
        assert.match(parseErrorsOf(yield* Effect.flip(parseWith(listFlags, ["--pools", "x"]))), /--pools/)
        assert.match(
          parseErrorsOf(yield* Effect.flip(parseWith(listFlags, ["--protocol", "tcp"]))),
          /--protocol/
        )
      })
    )

    it.effect("usage errors of the command: exit 2 before anything is read", () =>
      Effect.gen(function* () {
        for (const [args, message] of [
          [[], /give --config FILE or at least one --pool CIDR/],
          [["--pool", "100.64.0.0/24", "--ip", "nonsense"], /--ip: "nonsense" is not an IP address/],
          [["--pool", "100.64.0.0/24", "--prometheus", "--json"], /--prometheus cannot be combined/],
          [["--pool", "100.64.0.0/24", "--unknown"], /--unknown/]
        ] as const) {
          const run = yield* runCli(["list", ...args])
          assert.strictEqual(run.code, 2, args.join(" "))
          assert.match(run.stderr, message)
        }
      })
    )
  })
})
