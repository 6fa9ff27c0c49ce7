// A network's settings from its config (or the original plugin's CNI_ARGS): pools, claim policy, adapters.
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { defaultClaimPolicy } from "../../domain/ClaimPolicy.ts"
import { checkNetworkName } from "../../domain/ContainerId.ts"
import { formatCidr, type Ip, parseAddressWithPrefix, parseIp } from "../../domain/Ip.ts"
import type { Network } from "../../domain/Network.ts"
import { InvalidPool, makePool, type Pool } from "../../domain/Pool.ts"
import type { CniArgs } from "./CniArgs.ts"
import { CniCode, type CniError, cniError } from "./CniError.ts"
import {
  type FabricHealthSettings,
  type IpamKnobs,
  type LogSettings,
  type OnUnhealthy,
  parseKnobs
} from "./IpamKnobs.ts"
import { misspeltIpamKey } from "./KeyTypos.ts"
import { type DnsEntry, type IpamConf, NetConf, type RouteEntry } from "./NetConf.ts"
import {
  checkExclusionCounts,
  invalidPoolError,
  isCidr,
  originalExclusions,
  poolsOf,
  rangeSources
} from "./NetworkPools.ts"
import { describeSchemaError } from "./SchemaIssues.ts"

const decodeFailure = (msg: string, details?: string) => cniError(CniCode.decodingFailure, msg, details)
const invalidConfig = (msg: string) => cniError(CniCode.invalidConfig, msg)

/** What the route table and attachment store of one network are configured with. */
export interface AdapterSettings {
  /** Network name: attachment records live in `<dataDir>/<network>/`. */
  readonly network: string
  readonly dataDir: string
  /** Route protocol number of our claims. */
  readonly protocol: number
  readonly table: number
  /** Interface (name or index) our host routes point at; undefined: the adapter's default. */
  readonly device: string | number | undefined
  readonly metric: number
  /** Which routing daemon to ask whether claims propagate. */
  readonly fabricHealth: FabricHealthSettings
}

/** Everything the verbs need about the network. */
export interface NetworkSettings {
  readonly network: Network
  readonly adapters: AdapterSettings
  readonly routes: ReadonlyArray<RouteEntry>
  readonly dns: DnsEntry | undefined
  readonly log: LogSettings
  /** What ADD and STATUS do when the fabric is unhealthy. */
  readonly onUnhealthy: OnUnhealthy
}

/**
 * Bounds of the numbers a route may carry (1.1.0 results): what the kernel stores them in
 * (u32 metrics and table ids, an u8 scope), mtu and advmss as libcni's Go ints on 32 bits.
 */
const routeNumberBounds = {
  mtu: 2147483647,
  advmss: 2147483647,
  priority: 4294967295,
  table: 4294967295,
  scope: 255
} as const

const checkRoutes = (routes: ReadonlyArray<RouteEntry>): CniError | undefined => {
  for (const [i, route] of routes.entries()) {
    if (!isCidr(route.dst))
      return invalidConfig(`ipam.routes[${i}].dst: ${JSON.stringify(route.dst)} is not a CIDR`)
    if (route.gw !== undefined && Option.isNone(parseIp(route.gw))) {
      return invalidConfig(`ipam.routes[${i}].gw: ${JSON.stringify(route.gw)} is not an IP address`)
    }
    for (const [field, max] of Object.entries(routeNumberBounds)) {
      const value = route[field as keyof typeof routeNumberBounds]
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0 && value <= max)) {
        // JSON.stringify would print 1e400 as null
        return invalidConfig(`ipam.routes[${i}].${field}: ${String(value)} must be a whole number 0..${max}`)
      }
    }
  }
  return undefined
}

/** The original plugin's interface: one pool from CNI_ARGS CIDR, and the requested address when host bits are set. */
interface LegacyPools {
  readonly pools: ReadonlyArray<Pool>
  readonly address: Ip | undefined
  readonly subnetName: string
}

const legacyPools = (args: CniArgs, ipam: IpamConf | undefined): LegacyPools | CniError => {
  if (args.cidr === undefined) {
    return invalidConfig(
      "CNI_ARGS: CIDR=<cidr> is required when the network config has no ipam ranges (ipam.ranges or ipam.subnet)"
    )
  }
  const parsed = parseAddressWithPrefix(args.cidr)
  if (Option.isNone(parsed)) {
    return cniError(
      CniCode.invalidEnvironment,
      `CNI_ARGS: CIDR=${args.cidr} is not a CIDR such as 100.64.0.0/24`
    )
  }
  const { address, cidr } = parsed.value
  const subnet = formatCidr(cidr)
  const exact = address.value !== cidr.network
  // an exact request is taken as is (the original applied its exclusions only to its search)
  const exclusions = exact
    ? {}
    : originalExclusions(
        args.excludeFirst ?? ipam?.excludeFirst,
        args.excludeLast ?? ipam?.excludeLast,
        ipam?.exclude
      )
  const pool = makePool("CNI_ARGS CIDR", [{ subnet }], exclusions)
  if (pool instanceof InvalidPool) return invalidPoolError(pool)
  return {
    pools: [pool],
    address: exact ? address : undefined,
    subnetName: `cidr-${subnet.replaceAll(":", "-").replace("/", "_")}`
  }
}

/**
 * The network config object decoded with the schema (code 6 naming every wrong field); an
 * unknown `ipam` key that looks like a misspelt known one is code 7.
 */
export const decodeConf = (json: unknown): NetConf | CniError => {
  const decoded = Schema.decodeUnknownResult(NetConf)(json, { errors: "all" })
  if (Result.isFailure(decoded)) return decodeFailure(describeSchemaError(decoded.failure, json))
  const typo = misspeltIpamKey((json as { readonly ipam?: unknown }).ipam)
  return typo === undefined ? decoded.success : invalidConfig(typo)
}

/** The network's settings from its config (or the original plugin's CNI_ARGS), and the legacy CIDR address. */
export const settingsOf = (
  conf: NetConf | undefined,
  args: CniArgs
): { readonly settings: NetworkSettings; readonly legacyAddress: Ip | undefined } | CniError => {
  const ipam = conf?.ipam
  const knobs: IpamKnobs | CniError = parseKnobs(ipam ?? {})
  if (knobs instanceof Error) return knobs
  const badCount = checkExclusionCounts(ipam)
  if (badCount !== undefined) return badCount
  const routes = ipam?.routes ?? []
  const badRoute = checkRoutes(routes)
  if (badRoute !== undefined) return badRoute

  const sources = rangeSources(ipam, conf?.runtimeConfig?.ipRanges)
  let pools: ReadonlyArray<Pool>
  let legacyAddress: Ip | undefined
  let name = conf?.name
  let device = knobs.device
  if (sources !== undefined) {
    const built = poolsOf(
      sources,
      originalExclusions(ipam?.excludeFirst, ipam?.excludeLast, ipam?.exclude),
      ipam
    )
    if (built instanceof Error) return built
    pools = built
  } else {
    const legacy = legacyPools(args, ipam)
    if (legacy instanceof Error) return legacy
    pools = legacy.pools
    legacyAddress = legacy.address
    name ??= legacy.subnetName
    if (device === undefined && args.linkIndex !== undefined && args.linkIndex > 0) device = args.linkIndex
  }
  const networkName = name ?? "routetable-ipam"
  const settings: NetworkSettings = {
    network: {
      name: networkName,
      pools,
      policy: {
        ...defaultClaimPolicy,
        propagationTimeout: knobs.propagationTimeout,
        maxAttempts: knobs.maxAttempts,
        tieBreak: knobs.tieBreak
      },
      // the original plugin's interface: each ADD adds an address, each DEL releases the one it names
      ...(sources === undefined ? { perAddress: true } : {})
    },
    adapters: {
      network: networkName,
      dataDir: knobs.dataDir,
      protocol: knobs.routeProtocol,
      table: knobs.table,
      device,
      metric: knobs.metric,
      fabricHealth: knobs.fabricHealth
    },
    routes,
    dns: ipam?.dns,
    log: knobs.log,
    onUnhealthy: knobs.onUnhealthy
  }
  return { settings, legacyAddress }
}

/**
 * The settings of one network from its config object (as the plugin gets it on stdin, e.g. one
 * plugin of a .conflist with the list's cniVersion and name), for operator commands. The same
 * checks and messages as the plugin's; a config without ranges is refused (no CNI_ARGS here).
 */
export const decodeNetworkConfig = (json: unknown): NetworkSettings | CniError => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return decodeFailure("the network config must be a JSON object")
  }
  const conf = decodeConf(json)
  if (conf instanceof Error) return conf
  const badName = checkNetworkName(conf.name)
  if (badName !== undefined) return invalidConfig(`name: ${badName.message}`)
  const built = settingsOf(conf, {})
  return built instanceof Error ? built : built.settings
}
