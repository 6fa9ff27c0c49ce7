// The network config on stdin, as effect/Schema structs: JSON types only; values are checked later.
import * as Schema from "effect/Schema"

/** One range of a range set, host-local's keys. */
export const RangeEntry = Schema.Struct({
  subnet: Schema.String,
  rangeStart: Schema.optionalKey(Schema.String),
  rangeEnd: Schema.optionalKey(Schema.String),
  gateway: Schema.optionalKey(Schema.String)
})
export type RangeEntry = typeof RangeEntry.Type

/** `ranges` / `ipRanges`: one range set per address family wanted (dual stack = two entries). */
export const RangeSets = Schema.Array(Schema.Array(RangeEntry))

/** A route for the result, passed through (the 1.1.0 keys only in 1.1.0 results). */
export const RouteEntry = Schema.Struct({
  dst: Schema.String,
  gw: Schema.optionalKey(Schema.String),
  mtu: Schema.optionalKey(Schema.Number),
  advmss: Schema.optionalKey(Schema.Number),
  priority: Schema.optionalKey(Schema.Number),
  table: Schema.optionalKey(Schema.Number),
  scope: Schema.optionalKey(Schema.Number)
})
export type RouteEntry = typeof RouteEntry.Type

/** DNS settings for the result, passed through. */
export const DnsEntry = Schema.Struct({
  nameservers: Schema.optionalKey(Schema.Array(Schema.String)),
  domain: Schema.optionalKey(Schema.String),
  search: Schema.optionalKey(Schema.Array(Schema.String)),
  options: Schema.optionalKey(Schema.Array(Schema.String))
})
export type DnsEntry = typeof DnsEntry.Type

/** `log`: a file path, or `{ file?, level?, format?, maxBytes? }` (values checked in IpamKnobs). */
export const LogEntry = Schema.Union([
  Schema.String,
  Schema.Struct({
    file: Schema.optionalKey(Schema.String),
    level: Schema.optionalKey(Schema.String),
    format: Schema.optionalKey(Schema.String),
    maxBytes: Schema.optionalKey(Schema.Number)
  })
])

/** `fabricHealth`: which routing daemon to ask before ADD, and what to do when it is unhealthy. */
export const FabricHealthEntry = Schema.Struct({
  type: Schema.optionalKey(Schema.String),
  socket: Schema.optionalKey(Schema.String),
  minEstablished: Schema.optionalKey(Schema.Number),
  protocols: Schema.optionalKey(Schema.Array(Schema.String)),
  timeout: Schema.optionalKey(Schema.Union([Schema.Number, Schema.String])),
  onUnhealthy: Schema.optionalKey(Schema.String)
})
export type FabricHealthEntry = typeof FabricHealthEntry.Type

/**
 * The `ipam` object. Standard keys first (host-local's), then ours. Unknown keys are ignored
 * (dropped by the decoder), as host-local ignores them.
 */
export const IpamConf = Schema.Struct({
  type: Schema.optionalKey(Schema.String),
  ranges: Schema.optionalKey(RangeSets),
  subnet: Schema.optionalKey(Schema.String),
  rangeStart: Schema.optionalKey(Schema.String),
  rangeEnd: Schema.optionalKey(Schema.String),
  gateway: Schema.optionalKey(Schema.String),
  routes: Schema.optionalKey(Schema.Array(RouteEntry)),
  dns: Schema.optionalKey(DnsEntry),
  excludeFirst: Schema.optionalKey(Schema.Number),
  excludeLast: Schema.optionalKey(Schema.Number),
  exclude: Schema.optionalKey(Schema.Array(Schema.String)),
  propagationTimeout: Schema.optionalKey(Schema.Union([Schema.Number, Schema.String])),
  routeProtocol: Schema.optionalKey(Schema.Number),
  table: Schema.optionalKey(Schema.Union([Schema.Number, Schema.String])),
  device: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number])),
  metric: Schema.optionalKey(Schema.Number),
  maxAttempts: Schema.optionalKey(Schema.Number),
  tieBreak: Schema.optionalKey(Schema.Boolean),
  dataDir: Schema.optionalKey(Schema.String),
  log: Schema.optionalKey(LogEntry),
  fabricHealth: Schema.optionalKey(FabricHealthEntry)
})
export type IpamConf = typeof IpamConf.Type

/** `cni.dev/valid-attachments` entries (GC). */
export const AttachmentEntry = Schema.Struct({ containerID: Schema.String, ifname: Schema.String })

/** The part of a previous result the plugin reads: its addresses. */
export const PrevResult = Schema.Struct({
  ips: Schema.optionalKey(Schema.Array(Schema.Struct({ address: Schema.String })))
})

/** The whole network config as the runtime sends it (`cniVersion` is checked before this is decoded). */
export const NetConf = Schema.Struct({
  cniVersion: Schema.String,
  name: Schema.String,
  type: Schema.optionalKey(Schema.String),
  ipam: Schema.optionalKey(IpamConf),
  args: Schema.optionalKey(
    Schema.Struct({
      cni: Schema.optionalKey(Schema.Struct({ ips: Schema.optionalKey(Schema.Array(Schema.String)) }))
    })
  ),
  runtimeConfig: Schema.optionalKey(
    Schema.Struct({
      ips: Schema.optionalKey(Schema.Array(Schema.String)),
      ipRanges: Schema.optionalKey(RangeSets)
    })
  ),
  prevResult: Schema.optionalKey(PrevResult),
  "cni.dev/valid-attachments": Schema.optionalKey(Schema.Array(AttachmentEntry)),
  "cni.dev/attachments": Schema.optionalKey(Schema.Array(AttachmentEntry))
})
export type NetConf = typeof NetConf.Type
