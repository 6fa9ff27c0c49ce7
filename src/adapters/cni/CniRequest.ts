// One invocation decoded: env + stdin (or the original plugin's CNI_ARGS) -> a typed request per verb.
import * as Option from "effect/Option"
import type { Owner } from "../../domain/Attach.ts"
import { checkNetworkName } from "../../domain/ContainerId.ts"
import { type Ip, parseAddressWithPrefix, parseIp } from "../../domain/Ip.ts"
import { coveredBySubnets, intervalsContain } from "../../domain/Pool.ts"
import { type CniArgs, parseCniArgs } from "./CniArgs.ts"
import type { CniEnv } from "./CniEnv.ts"
import { CniCode, type CniError, cniError } from "./CniError.ts"
import { type CniVersion, isAtLeast, isSupportedVersion, supportedVersions } from "./CniVersion.ts"
import { maxJsonNesting, nestsDeeperThan } from "./JsonNesting.ts"
import type { NetConf } from "./NetConf.ts"
import { decodeConf, type NetworkSettings, settingsOf } from "./NetworkSettings.ts"

/** A decoded invocation. `cniVersion` is the version of the reply. */
export type PluginRequest =
  | {
      readonly command: "ADD"
      readonly cniVersion: CniVersion
      readonly settings: NetworkSettings
      readonly owner: Owner
      readonly requested: ReadonlyArray<Ip>
    }
  | {
      readonly command: "DEL"
      readonly cniVersion: CniVersion
      readonly settings: NetworkSettings
      readonly owner: Owner
      /** Addresses the runtime believes the owner holds (prevResult / CIDR): a hint only. */
      readonly hint: ReadonlyArray<Ip>
    }
  | {
      readonly command: "CHECK"
      readonly cniVersion: CniVersion
      readonly settings: NetworkSettings
      readonly owner: Owner
      readonly expected: ReadonlyArray<Ip>
    }
  | {
      readonly command: "GC"
      readonly cniVersion: CniVersion
      readonly settings: NetworkSettings
      readonly valid: ReadonlyArray<Owner>
    }
  | { readonly command: "STATUS"; readonly cniVersion: CniVersion; readonly settings: NetworkSettings }

/** The config on stdin after its version was checked; `json` undefined: stdin was empty. */
export interface StdinConf {
  readonly cniVersion: CniVersion
  readonly json: unknown
}

/** Version used when stdin is empty: the original plugin's results were always 0.4.0. */
export const noConfigVersion: CniVersion = "0.4.0"

const decodeFailure = (msg: string, details?: string) => cniError(CniCode.decodingFailure, msg, details)
const invalidConfig = (msg: string) => cniError(CniCode.invalidConfig, msg)

/**
 * Parse stdin far enough to know the reply version: JSON nesting at most 512 levels deep (code 6), an object, and a supported
 * `cniVersion` (code 1; a missing one means 0.1.0, as libcni reads it). Empty stdin: the original
 * plugin's interface, version 0.4.0.
 */
export const readStdinConf = (text: string): StdinConf | CniError => {
  if (text.trim() === "") return { cniVersion: noConfigVersion, json: undefined }
  // every later step (schema messages, previews) may recurse over the value: refuse absurd depth first
  if (nestsDeeperThan(text)) {
    return decodeFailure(`stdin: the network config nests deeper than ${maxJsonNesting} levels`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return decodeFailure(
      `stdin: the network config is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`
    )
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return decodeFailure("stdin: the network config must be a JSON object")
  }
  const version = (json as Record<string, unknown>).cniVersion
  const supported = supportedVersions.join(", ")
  if (version === undefined) {
    return cniError(
      CniCode.incompatibleVersion,
      `cniVersion: missing (which means 0.1.0); supported: ${supported}`
    )
  }
  if (typeof version !== "string")
    return decodeFailure(`cniVersion: Expected string, got ${JSON.stringify(version)}`)
  if (!isSupportedVersion(version)) {
    return cniError(
      CniCode.incompatibleVersion,
      `cniVersion: ${JSON.stringify(version)} is not supported; supported: ${supported}`
    )
  }
  return { cniVersion: version, json }
}

/** Spec: CHECK needs 0.4.0+, GC and STATUS 1.1.0+ (libcni's skel answers code 1 otherwise). */
const checkVerbVersion = (
  command: CniEnv["command"],
  version: CniVersion,
  hasConfig: boolean
): CniError | undefined => {
  const minimum =
    command === "CHECK" ? "0.4.0" : command === "GC" || command === "STATUS" ? "1.1.0" : undefined
  if (minimum === undefined || isAtLeast(version, minimum)) return undefined
  const why = hasConfig ? "" : " (without a network config on stdin the version is 0.4.0)"
  return cniError(
    CniCode.incompatibleVersion,
    `cniVersion: ${command} needs ${minimum} or newer, the config says ${version}${why}`
  )
}

/** Addresses from `texts`, each possibly "addr/prefix" (the prefix is ignored). */
const parseAddresses = (
  field: string,
  texts: ReadonlyArray<string>,
  code: number
): ReadonlyArray<Ip> | CniError => {
  const out: Array<Ip> = []
  for (const [i, raw] of texts.entries()) {
    const text = raw.trim()
    const bare = text.includes("/") ? text.slice(0, text.indexOf("/")) : text
    const parsed = parseIp(bare)
    const prefixOk = !text.includes("/") || Option.isSome(parseAddressWithPrefix(text))
    if (Option.isNone(parsed) || !prefixOk) {
      return cniError(code, `${field}[${i}]: ${JSON.stringify(raw)} is not an IP address`)
    }
    out.push(parsed.value)
  }
  return out
}

/** Requested addresses in the conventions' precedence: runtimeConfig.ips, args.cni.ips, CNI_ARGS IP=. */
const requestedOf = (conf: NetConf | undefined, args: CniArgs): ReadonlyArray<Ip> | CniError => {
  const runtimeIps = conf?.runtimeConfig?.ips
  if (runtimeIps !== undefined && runtimeIps.length > 0) {
    return parseAddresses("runtimeConfig.ips", runtimeIps, CniCode.invalidConfig)
  }
  const argsIps = conf?.args?.cni?.ips
  if (argsIps !== undefined && argsIps.length > 0)
    return parseAddresses("args.cni.ips", argsIps, CniCode.invalidConfig)
  if (args.ip !== undefined && args.ip !== "") {
    return parseAddresses("CNI_ARGS IP", args.ip.split(","), CniCode.invalidEnvironment)
  }
  return []
}

/**
 * Decode one invocation (not VERSION). Failures carry the spec's code and name the field:
 * 1 version, 4 env/CNI_ARGS, 6 JSON types, 7 values.
 */
export const decodeRequest = (env: CniEnv, stdin: StdinConf): PluginRequest | CniError => {
  const command = env.command
  if (command === "VERSION") return cniError(CniCode.internal, "VERSION is not decoded as a request")
  const versionProblem = checkVerbVersion(command, stdin.cniVersion, stdin.json !== undefined)
  if (versionProblem !== undefined) return versionProblem
  const conf = stdin.json === undefined ? undefined : decodeConf(stdin.json)
  if (conf instanceof Error) return conf
  if (conf !== undefined) {
    const badName = checkNetworkName(conf.name)
    if (badName !== undefined) return invalidConfig(`name: ${badName.message}`)
  }
  const args = parseCniArgs(env.args)
  if (args instanceof Error) return args
  const built = settingsOf(conf, args)
  if (built instanceof Error) return built
  const { settings, legacyAddress } = built
  const pools = settings.network.pools
  const cniVersion = stdin.cniVersion
  const owner: Owner = {
    containerId: env.containerId,
    ifname: env.ifname,
    ...(args.podName === undefined
      ? {}
      : {
          pod: {
            name: args.podName,
            ...(args.podNamespace === undefined ? {} : { namespace: args.podNamespace })
          }
        })
  }
  const covered = coveredBySubnets(pools)
  const inNetwork = (address: Ip) => intervalsContain(covered[address.family], address.value)
  const prevIps = (conf?.prevResult?.ips ?? []).map((ip) => ip.address)

  switch (command) {
    case "ADD": {
      const requested = requestedOf(conf, args)
      if (requested instanceof Error) return requested
      const all = requested.length > 0 || legacyAddress === undefined ? requested : [legacyAddress]
      return { command, cniVersion, settings, owner, requested: all }
    }
    case "DEL": {
      // best effort: addresses that do not parse are no hint at all
      const hint: Array<Ip> = []
      for (const text of prevIps) {
        const parsed = parseAddresses("prevResult.ips", [text], CniCode.invalidConfig)
        if (!(parsed instanceof Error)) hint.push(...parsed.filter(inNetwork))
      }
      if (legacyAddress !== undefined) hint.push(legacyAddress)
      return { command, cniVersion, settings, owner, hint }
    }
    case "CHECK": {
      if (conf !== undefined && conf.prevResult === undefined && legacyAddress === undefined) {
        return invalidConfig("prevResult: required for CHECK")
      }
      const expected = parseAddresses("prevResult.ips", prevIps, CniCode.invalidConfig)
      if (expected instanceof Error) return expected
      const mine = expected.filter(inNetwork)
      return {
        command,
        cniVersion,
        settings,
        owner,
        expected: legacyAddress === undefined ? mine : [...mine, legacyAddress]
      }
    }
    case "GC": {
      const entries = conf?.["cni.dev/valid-attachments"] ?? conf?.["cni.dev/attachments"]
      if (entries === undefined) return invalidConfig("cni.dev/valid-attachments: required for GC")
      const valid = entries.map((e) => ({ containerId: e.containerID, ifname: e.ifname }))
      return { command, cniVersion, settings, valid }
    }
    case "STATUS":
      return { command, cniVersion, settings }
  }
}

/** The request of one verb: `CniRequest<"ADD">`. */
export type CniRequest<C extends PluginRequest["command"]> = Extract<PluginRequest, { readonly command: C }>
