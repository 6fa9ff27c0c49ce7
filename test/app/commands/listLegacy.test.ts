// `list` with routes of the original Go plugin: shown as legacy in the table, --json, --ip, the totals and the metrics.
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { formatHolder, holderOf, holderToJson } from "../../../src/app/listing/AddressHolder.ts"
import { type CountedPool, nodeTotals, poolTotals } from "../../../src/app/listing/Capacity.ts"
import { formatTable, listClaims, listingToJson } from "../../../src/app/listing/ClaimListing.ts"
import { formatPrometheus } from "../../../src/app/listing/PrometheusText.ts"
import { type Cidr, contains, type Ip, parseCidr, parseIp } from "../../../src/domain/Ip.ts"
import type { Route } from "../../../src/domain/Route.ts"

const at = (text: string): Ip => Option.getOrThrow(parseIp(text))
const cidr = (text: string): Cidr => Option.getOrThrow(parseCidr(text))
const route = (host: string, fields: Partial<Route>): Route => ({
  host: at(host),
  origin: "other",
  protocol: 192,
  table: 254,
  metric: 0,
  device: 3,
  ...fields
})
const ours = (host: string) => route(host, { origin: "ours", metric: 4096 })
const learned = (host: string) =>
  route(host, { protocol: 12, metric: 32, device: 7, nextHop: at("198.18.0.2") })

// .5 legacy; fd00:64::5 legacy (IPv6: metric 1024); .6 legacy + ours (a migration in progress);
// .7 legacy + another node's route (a real conflict); .8 protocol 192 with metric 1024 on IPv4 (not legacy)
const listing = listClaims({
  network: "pods",
  subnets: [cidr("100.64.0.0/24"), cidr("fd00:64::/120")],
  protocol: 192,
  table: 254,
  metric: 4096,
  routes: [
    route("100.64.0.5", {}),
    route("fd00:64::5", { metric: 1024 }),
    route("100.64.0.6", {}),
    ours("100.64.0.6"),
    route("100.64.0.7", {}),
    learned("100.64.0.7"),
    route("100.64.0.8", { metric: 1024 })
  ],
  records: [
    {
      network: "pods",
      containerId: "c6",
      ifname: "eth0",
      addresses: [at("100.64.0.6")],
      pending: []
    }
  ]
})
const names = new Map([
  [3, "cni0"],
  [7, "eth1"]
])
const pools: ReadonlyArray<CountedPool> = [
  { label: "100.64.0.0/24", allocatable: 254n, contains: (a) => contains(cidr("100.64.0.0/24"), a) }
]

describe("list with legacy routes", () => {
  it("marks the Go plugin's routes legacy; legacy beside ours is no conflict, beside another node's it is", () => {
    const json = listingToJson(listing, names)
    assert.deepStrictEqual(
      json.claims.map((c) => [c.address, c.routes.map((r) => r.origin), c.problems]),
      [
        ["100.64.0.5", ["legacy"], ["legacy"]],
        ["100.64.0.6", ["ours", "legacy"], ["legacy"]],
        ["100.64.0.7", ["legacy", "learned"], ["conflict", "legacy"]],
        ["100.64.0.8", ["learned"], []],
        ["fd00:64::5", ["legacy"], ["legacy"]]
      ]
    )
    assert.deepStrictEqual(json.claims[0]?.routes[0], {
      origin: "legacy",
      nextHop: null,
      nodeName: null,
      protocol: 192,
      protocolName: null,
      table: 254,
      metric: 0,
      device: "cni0"
    })
    assert.deepStrictEqual(listing.summary, {
      ours: 1,
      learned: 2,
      conflicts: 1,
      orphans: 0,
      missing: 0,
      stale: 0,
      corrupt: 0,
      legacy: 4
    })
    const table = formatTable(listing, names)
    assert.match(table, /\n100\.64\.0\.5 +legacy +this node +192 +0 +cni0 +- +legacy\n/)
    assert.match(table, /\nfd00:64::5 +legacy +this node +192 +1024 +cni0 +- +legacy$/m)
    assert.include(table, "1 ours, 2 learned, 1 conflict, 0 orphans, 0 missing, 4 legacy")
  })

  it("counts legacy addresses as in use here, on this node", () => {
    assert.deepStrictEqual(poolTotals(listing, pools), [
      {
        pool: "100.64.0.0/24",
        allocatable: 254,
        inUseHere: 3,
        inUseElsewhere: 1,
        free: 250,
        freePercent: 98.4
      }
    ])
    assert.deepStrictEqual(nodeTotals(listing), [
      { node: "this node", protocols: [192], addresses: 4 },
      { node: "-", protocols: [192], addresses: 1 },
      { node: "198.18.0.2", protocols: [12], addresses: 1 }
    ])
  })

  it("--ip: held by this node, the route named legacy and what adopts it", () => {
    const holder = holderOf(listing, at("100.64.0.5"), pools)
    assert.strictEqual(holder.heldBy, "this node")
    assert.include(
      formatHolder(holder, names),
      "route:    legacy (the original Go plugin's, this node), protocol 192, table 254, metric 0, device cni0; `migrate` adopts it"
    )
    const json = holderToJson(holder, listing, names)
    assert.deepStrictEqual(json.problems, ["legacy"])
    assert.deepStrictEqual(
      json.routes.map((r) => r.origin),
      ["legacy"]
    )
    // negative control: a route of protocol 192 with another metric is not the Go plugin's
    assert.notInclude(formatHolder(holderOf(listing, at("100.64.0.8"), pools), names), "legacy")
  })

  it("--prometheus: a legacy gauge", () => {
    const text = formatPrometheus({
      network: "pods",
      pools: poolTotals(listing, pools),
      nodes: nodeTotals(listing),
      summary: listing.summary,
      fabric: undefined
    })
    assert.include(text.split("\n"), 'routetable_ipam_legacy{network="pods"} 4')
    assert.include(text, "# TYPE routetable_ipam_legacy gauge\n")
  })
})
