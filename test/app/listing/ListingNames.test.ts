// `list` with names: next hops as node names (shown with the address), protocols by rt_protos name, --json keeping the raw values.
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { formatHolder, holderOf, holderToJson } from "../../../src/app/listing/AddressHolder.ts"
import {
  type CountedPool,
  formatTotals,
  nodeTotals,
  nodeTotalsToJson,
  poolTotals
} from "../../../src/app/listing/Capacity.ts"
import { formatTable, listClaims, listingToJson } from "../../../src/app/listing/ClaimListing.ts"
import {
  formatNextHop,
  formatProtocol,
  type ListingNames,
  ourProtocolName,
  protocolNamesWithOurs
} from "../../../src/app/listing/ListingNames.ts"
import { formatPrometheus } from "../../../src/app/listing/PrometheusText.ts"
import type { Attachment } from "../../../src/domain/Attachments.ts"
import { type Cidr, contains, type Ip, keyOf, parseCidr, parseIp } from "../../../src/domain/Ip.ts"
import type { Route } from "../../../src/domain/Route.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const cidr = (text: string): Cidr => Option.getOrThrow(parseCidr(text))

const ours = (host: string): Route => ({
  host: at(host),
  origin: "ours",
  protocol: 200,
  table: 254,
  metric: 4096,
  device: 1
})
const learned = (host: string, via: string, protocol = 12): Route => ({
  host: at(host),
  origin: "other",
  protocol,
  table: 254,
  metric: 32,
  device: 7,
  nextHop: at(via)
})
const record = (containerId: string, addresses: ReadonlyArray<string>): Attachment => ({
  network: "pods",
  containerId,
  ifname: "eth0",
  addresses: addresses.map(at),
  pending: [],
  pod: { namespace: "shop", name: containerId }
})

const devices = new Map([
  [1, "pods0"],
  [7, "eth0"]
])

/** node-b is named, 198.18.0.9 is not; protocol 200 (ours) is not in the tables, 4 and 12 are. */
const naming: ListingNames = {
  nodes: new Map([
    [keyOf(at("198.18.0.2")), "node-b"],
    [keyOf(at("198.18.0.3")), "node-c"]
  ]),
  protocols: protocolNamesWithOurs(
    new Map([
      [4, "static"],
      [12, "bird"]
    ]),
    200
  )
}

/** Ours, one learned from node-b, a conflict with node-c, and a static route towards an unnamed next hop. */
const listing = () =>
  listClaims({
    network: "pods",
    subnets: [cidr("100.64.0.0/24")],
    protocol: 200,
    table: 254,
    metric: 4096,
    routes: [
      ours("100.64.0.5"),
      learned("100.64.0.9", "198.18.0.2"),
      ours("100.64.0.20"),
      learned("100.64.0.20", "198.18.0.3"),
      learned("100.64.0.30", "198.18.0.9", 4)
    ],
    records: [record("cart", ["100.64.0.5"]), record("web", ["100.64.0.20"])]
  })

const pools: ReadonlyArray<CountedPool> = [
  { label: "100.64.0.0/24", allocatable: 254n, contains: (a) => contains(cidr("100.64.0.0/24"), a) }
]

describe("list names", () => {
  describe("protocolNamesWithOurs", () => {
    it("names our protocol routetable-ipam only when the tables do not name its number", () => {
      assert.strictEqual(protocolNamesWithOurs(new Map([[12, "bird"]]), 192).get(192), ourProtocolName)
      assert.strictEqual(
        protocolNamesWithOurs(new Map([[192, "eigrp"]]), 192).get(192),
        "eigrp",
        "the tables' name wins, as `ip route` prints it"
      )
    })

    it("a name is shown with its number; an unknown number alone", () => {
      assert.strictEqual(formatProtocol(12, naming), "bird (12)")
      assert.strictEqual(formatProtocol(200, naming), "routetable-ipam (200)")
      assert.strictEqual(formatProtocol(99, naming), "99")
      assert.strictEqual(formatNextHop(at("198.18.0.2"), naming), "node-b (198.18.0.2)")
      assert.strictEqual(formatNextHop(at("198.18.0.9"), naming), "198.18.0.9")
    })
  })

  it("the claims table (golden): NEXT HOP as name (address), PROTO as name (number)", () => {
    assert.strictEqual(
      formatTable(listing(), devices, naming),
      [
        "network pods: 100.64.0.0/24 (ours: protocol 200, table 254, metric 4096)",
        "",
        "ADDRESS      ORIGIN   NEXT HOP             PROTO                  METRIC  DEVICE  OWNER           PROBLEMS",
        "100.64.0.5   ours     this node            routetable-ipam (200)  4096    pods0   shop/cart eth0",
        "100.64.0.9   learned  node-b (198.18.0.2)  bird (12)              32      eth0    -",
        "100.64.0.20  ours     this node            routetable-ipam (200)  4096    pods0   shop/web eth0   conflict",
        "100.64.0.20  learned  node-c (198.18.0.3)  bird (12)              32      eth0    -               conflict",
        "100.64.0.30  learned  198.18.0.9           static (4)             32      eth0    -",
        "",
        "2 ours, 3 learned, 1 conflict, 0 orphans, 0 missing"
      ].join("\n")
    )
  })

  it("the totals table (golden): per node its name with the address, and the protocols by name", () => {
    const l = listing()
    assert.strictEqual(
      formatTotals(poolTotals(l, pools), nodeTotals(l, naming), naming),
      [
        "POOL           ALLOCATABLE  IN USE HERE  IN USE ELSEWHERE  FREE  FREE %",
        "100.64.0.0/24          254            2                 2   250    98.4",
        "",
        "NODE (NEXT HOP)      PROTOCOL               ADDRESSES",
        "this node            routetable-ipam (200)          2",
        "node-b (198.18.0.2)  bird (12)                      1",
        "node-c (198.18.0.3)  bird (12)                      1",
        "198.18.0.9           static (4)                     1"
      ].join("\n")
    )
  })

  it("a node reached by two protocols lists both, and counts an address once", () => {
    const l = listClaims({
      network: "pods",
      subnets: [cidr("100.64.0.0/24")],
      protocol: 200,
      table: 254,
      metric: 4096,
      routes: [learned("100.64.0.9", "198.18.0.2"), learned("100.64.0.9", "198.18.0.2", 4)],
      records: []
    })
    assert.deepStrictEqual(nodeTotals(l, naming), [
      { node: "198.18.0.2", nodeName: "node-b", protocols: [4, 12], addresses: 1 }
    ])
  })

  it("--json nodes: the raw next hop in node, nodeName (null when unknown), protocols by number and name", () => {
    const [here, b, c, unnamed, ...rest] = nodeTotalsToJson(nodeTotals(listing(), naming), naming)
    assert.deepStrictEqual(rest, [])
    assert.strictEqual(here?.node, "this node")
    assert.strictEqual(here?.nodeName, null)
    assert.deepStrictEqual(here?.protocols, [{ protocol: 200, name: "routetable-ipam" }])
    assert.strictEqual(here?.addresses, 2)
    assert.strictEqual(b?.node, "198.18.0.2")
    assert.strictEqual(b?.nodeName, "node-b")
    assert.deepStrictEqual(b?.protocols, [{ protocol: 12, name: "bird" }])
    assert.strictEqual(b?.addresses, 1)
    assert.strictEqual(c?.node, "198.18.0.3")
    assert.strictEqual(c?.nodeName, "node-c")
    assert.strictEqual(unnamed?.node, "198.18.0.9")
    assert.strictEqual(unnamed?.nodeName, null)
    assert.deepStrictEqual(unnamed?.protocols, [{ protocol: 4, name: "static" }])
  })

  it("--json routes: nextHop and protocol stay raw, nodeName and protocolName beside them", () => {
    const claims = listingToJson(listing(), devices, naming).claims
    const conflict = claims.find((claim) => claim.address === "100.64.0.20")
    const [mine, theirs] = conflict?.routes ?? []
    assert.strictEqual(mine?.origin, "ours")
    assert.strictEqual(mine?.nextHop, null)
    assert.strictEqual(mine?.nodeName, null)
    assert.strictEqual(mine?.protocol, 200)
    assert.strictEqual(mine?.protocolName, "routetable-ipam")
    assert.strictEqual(theirs?.origin, "learned")
    assert.strictEqual(theirs?.nextHop, "198.18.0.3")
    assert.strictEqual(theirs?.nodeName, "node-c")
    assert.strictEqual(theirs?.protocol, 12)
    assert.strictEqual(theirs?.protocolName, "bird")
    const unnamed = claims.find((claim) => claim.address === "100.64.0.30")?.routes[0]
    assert.strictEqual(unnamed?.nextHop, "198.18.0.9")
    assert.strictEqual(unnamed?.nodeName, null)
    assert.strictEqual(unnamed?.protocolName, "static")
  })

  it("--ip names the node holding the address, with its address; --json keeps both", () => {
    const l = listing()
    const holder = holderOf(l, at("100.64.0.9"), pools)
    assert.include(
      formatHolder(holder, devices, naming),
      "  route:    learned, next hop node-b (198.18.0.2) (the node holding it), protocol bird (12), metric 32, device eth0"
    )
    const json = holderToJson(holder, l, devices, naming)
    assert.strictEqual(json.routes[0]?.nextHop, "198.18.0.2")
    assert.strictEqual(json.routes[0]?.nodeName, "node-b")
  })

  it("--prometheus: node_name beside node, empty when unknown", () => {
    const l = listing()
    const text = formatPrometheus({
      network: "pods",
      pools: poolTotals(l, pools),
      nodes: nodeTotals(l, naming),
      summary: l.summary,
      fabric: undefined
    })
    const samples = text
      .split("\n")
      .filter((line) => line.startsWith("routetable_ipam_node_addresses_in_use{"))
    assert.deepStrictEqual(samples, [
      'routetable_ipam_node_addresses_in_use{network="pods",node="this node",node_name=""} 2',
      'routetable_ipam_node_addresses_in_use{network="pods",node="198.18.0.2",node_name="node-b"} 1',
      'routetable_ipam_node_addresses_in_use{network="pods",node="198.18.0.3",node_name="node-c"} 1',
      'routetable_ipam_node_addresses_in_use{network="pods",node="198.18.0.9",node_name=""} 1'
    ])
  })
})
