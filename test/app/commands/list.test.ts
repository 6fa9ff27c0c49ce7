// `list`: grouping routes and owner records into claims (conflicts, orphans, missing routes), the table and the JSON.
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { parseFlags } from "../../../src/app/commands/list.ts"
import {
  type ClaimListing,
  formatSummary,
  formatTable,
  type ListingInput,
  listClaims,
  listingToJson
} from "../../../src/app/listing/ClaimListing.ts"
import { CommandFailed } from "../../../src/app/OperatorCommand.ts"
import type { Attachment } from "../../../src/domain/Attachments.ts"
import { type Cidr, formatIp, type Ip, parseCidr, parseIp } from "../../../src/domain/Ip.ts"
import type { Route } from "../../../src/domain/Route.ts"

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
        corrupt: 0
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
        corrupt: 0
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
        formatSummary({ ours: 0, learned: 0, conflicts: 2, orphans: 0, missing: 0, stale: 0, corrupt: 0 }),
        "0 ours, 0 learned, 2 conflicts, 0 orphans, 0 missing"
      )
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
        routes: [
          { origin: "ours", nextHop: null, protocol: 192, table: 254, metric: 4096, device: "lo" },
          { origin: "learned", nextHop: "198.18.0.3", protocol: 12, table: 254, metric: 32, device: "eth1" }
        ],
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
        corrupt: 0
      })
    })
  })

  describe("parseFlags", () => {
    it("repeatable --pool, --json, --help; unknown flags are usage errors (exit 2)", () => {
      const flags = parseFlags([
        "--pool",
        "100.64.0.0/24",
        "--pool=fd00::/120",
        "--json",
        "--protocol",
        "200"
      ])
      assert.notInstanceOf(flags, CommandFailed)
      if (flags instanceof CommandFailed) return
      assert.deepStrictEqual(flags.pools, ["100.64.0.0/24", "fd00::/120"])
      assert.isTrue(flags.json)
      assert.strictEqual(flags.protocol, "200")
      const help = parseFlags(["-h"])
      assert.isTrue(!(help instanceof CommandFailed) && help.help)
      const bad = parseFlags(["--pools", "x"])
      assert.instanceOf(bad, CommandFailed)
      assert.strictEqual((bad as CommandFailed).exitCode, 2)
    })
  })
})
