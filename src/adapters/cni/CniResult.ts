// The ADD result for each spec version: ips (with "version" before 1.0.0), routes and dns from the config.
import type { Assigned } from "../../domain/Attach.ts"
import { formatIp } from "../../domain/Ip.ts"
import { type CniVersion, hasIpVersionField, isAtLeast } from "./CniVersion.ts"
import type { DnsEntry, RouteEntry } from "./NetConf.ts"

/** One `ips[]` entry. */
export interface ResultIp {
  readonly version?: "4" | "6"
  readonly address: string
  readonly gateway?: string
}

/** The abbreviated result an IPAM plugin returns (no interfaces). */
export interface CniResult {
  readonly cniVersion: CniVersion
  readonly ips: ReadonlyArray<ResultIp>
  readonly routes?: ReadonlyArray<RouteEntry>
  readonly dns?: DnsEntry
}

const encodeIp = (version: CniVersion, assigned: Assigned): ResultIp => ({
  ...(hasIpVersionField(version)
    ? { version: assigned.address.family === 4 ? ("4" as const) : ("6" as const) }
    : {}),
  address: `${formatIp(assigned.address)}/${assigned.range.subnet.length}`,
  ...(assigned.range.gateway === undefined ? {} : { gateway: formatIp(assigned.range.gateway) })
})

/** A route as the version knows it: dst and gw; 1.1.0 adds mtu, advmss, priority, table and scope. */
const encodeRoute = (version: CniVersion, route: RouteEntry): RouteEntry => {
  if (isAtLeast(version, "1.1.0")) return route
  return route.gw === undefined ? { dst: route.dst } : { dst: route.dst, gw: route.gw }
}

const hasDns = (dns: DnsEntry | undefined): dns is DnsEntry =>
  dns !== undefined && Object.values(dns).some((v) => v !== undefined)

/**
 * The result JSON for `version`: each address with the prefix length of its range's subnet and
 * the range's gateway; `routes` and `dns` as configured (omitted when there are none).
 */
export const encodeResult = (
  version: CniVersion,
  assigned: ReadonlyArray<Assigned>,
  routes: ReadonlyArray<RouteEntry>,
  dns: DnsEntry | undefined
): CniResult => ({
  cniVersion: version,
  ips: assigned.map((a) => encodeIp(version, a)),
  ...(routes.length === 0 ? {} : { routes: routes.map((r) => encodeRoute(version, r)) }),
  ...(hasDns(dns) ? { dns } : {})
})

/** The VERSION reply. */
export const encodeVersionInfo = (
  cniVersion: CniVersion,
  supported: ReadonlyArray<CniVersion>
): { cniVersion: CniVersion; supportedVersions: ReadonlyArray<CniVersion> } => ({
  cniVersion,
  supportedVersions: supported
})
