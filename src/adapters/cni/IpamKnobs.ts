// Values of the plugin's own ipam keys (timeouts, route protocol, table, device, ...), checked one by one.
import * as Path from "node:path"
import * as Duration from "effect/Duration"
import { durationUnits, parseDurationMs } from "../DurationText.ts"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { checkIfname } from "../../domain/ContainerId.ts"
import type { BirdFabricHealthOptions } from "../BirdFabricHealth.ts"
import { CniCode, type CniError, cniError } from "./CniError.ts"
import type { FabricHealthEntry, IpamConf } from "./NetConf.ts"

/** How each log line is written: logfmt ("text") or one JSON object per line ("json"). */
export const LogFormat = Schema.Literals(["text", "json"])
export type LogFormat = typeof LogFormat.Type

/** Where and how much the plugin logs. Without a file, logs go to stderr (never stdout). */
export interface LogSettings {
  readonly file: string | undefined
  readonly level: LogLevel.LogLevel
  readonly format: LogFormat
  /** Size at which the file is renamed to `<file>.1` before the next write; 0: never. */
  readonly maxBytes: number
}

/**
 * Which routing daemon ADD asks before claiming: none (never asked, always healthy), or BIRD over
 * its control socket (absent options take the adapter's defaults).
 */
export type FabricHealthSettings =
  | { readonly type: "none" }
  | ({ readonly type: "bird" } & BirdFabricHealthOptions)

/**
 * What ADD does when the fabric is unhealthy or cannot be asked: "fail" (CNI code 11, nothing
 * claimed) or "proceed" (log a warning and allocate anyway, giving up the safety guarantee).
 */
export type OnUnhealthy = "fail" | "proceed"

/** The checked knobs, with defaults applied. */
export interface IpamKnobs {
  readonly propagationTimeout: Duration.Duration
  readonly routeProtocol: number
  readonly table: number
  readonly device: string | number | undefined
  readonly metric: number
  readonly maxAttempts: number
  readonly tieBreak: boolean
  readonly dataDir: string
  readonly log: LogSettings
  readonly fabricHealth: FabricHealthSettings
  readonly onUnhealthy: OnUnhealthy
}

/** Defaults of the plugin's own keys. */
export const knobDefaults = {
  propagationTimeoutMillis: 250,
  routeProtocol: 192,
  table: 254,
  metric: 4096,
  maxAttempts: 10,
  tieBreak: true,
  dataDir: "/var/lib/cni/routetable-ipam",
  logLevel: "Warn",
  logFormat: "text",
  logMaxBytes: 10 * 1024 * 1024,
  onUnhealthy: "fail"
} as const

/** Longest propagation timeout accepted: runtimes kill plugins that take much longer. */
const maxPropagationMillis = 60_000

/**
 * Shortest propagation timeout accepted. The idle 3-node BIRD lab's single-route propagation
 * took 0.6 ms at the median and 20 ms at most: a W below that voids the safety argument (every
 * claim seen within W) even on an idle fabric.
 */
export const minPropagationMillis = 20

/**
 * Lowest metric that stays behind every routing daemon's route: above IPv6's default metric
 * (1024) and every daemon's kernel metric we ship or know (BIRD 32 as shipped, FRR 20). A metric
 * at or below the daemon's hides a competing route from the lookup, or makes its insert EEXIST.
 */
export const minMetric = 1025

/** Pseudo file systems: neither records nor logs belong there (writes may change kernel settings, mkdir never succeeds). */
const pseudoFileSystems = ["/proc", "/sys"]

/** Paths that are the plugin's stdin or stdout, which carry the CNI JSON. */
const standardStreamPaths = ["/dev/stdout", "/dev/stdin", "/dev/fd/0", "/dev/fd/1"]

/** The problem with an absolute path of ours (`dataDir`, `log.file`), if any. */
const pathProblem = (value: string): string | undefined => {
  if (!value.startsWith("/")) return `${JSON.stringify(value)} must be an absolute path`
  if (value.includes("\0")) return `${JSON.stringify(value)} must not contain NUL`
  const normal = Path.posix.normalize(value)
  const pseudo = pseudoFileSystems.find((root) => normal === root || normal.startsWith(`${root}/`))
  if (pseudo !== undefined) return `${JSON.stringify(value)} is inside ${pseudo}, a pseudo file system`
  return undefined
}

const invalid = (field: string, msg: string): CniError =>
  cniError(CniCode.invalidConfig, `ipam.${field}: ${msg}`)

const isWhole = (n: number, min: number, max: number): boolean =>
  Number.isSafeInteger(n) && n >= min && n <= max

/** A duration knob: milliseconds as a number, or a string "250ms", "1s", "1.5s", "250"; within [min, max] ms. */
const parseDuration = (
  field: string,
  value: number | string,
  minMillis: number,
  maxMillis: number,
  /** Why `minMillis` is the floor: said when a finite value is below it. */
  whyFloor?: string
): Duration.Duration | CniError => {
  let millis: number
  if (typeof value === "number") millis = value
  else {
    const parsed = parseDurationMs(value)
    if (parsed === undefined) {
      return invalid(
        field,
        `${JSON.stringify(value)} is not a duration; use milliseconds or "250ms", "1s" (units: ${durationUnits})`
      )
    }
    millis = parsed
  }
  if (whyFloor !== undefined && Number.isFinite(millis) && millis < minMillis) {
    return invalid(field, `${JSON.stringify(value)} is below the floor of ${minMillis} ms: ${whyFloor}`)
  }
  if (!Number.isFinite(millis) || millis < minMillis || millis > maxMillis) {
    return invalid(field, `${JSON.stringify(value)} must be between ${minMillis} and ${maxMillis} ms`)
  }
  return Duration.millis(Math.round(millis))
}

/** `propagationTimeout`: milliseconds as a number, or a string "250ms", "1s", "1.5s", "250"; 20 ms .. 60 s. */
export const parsePropagationTimeout = (value: number | string): Duration.Duration | CniError =>
  parseDuration(
    "propagationTimeout",
    value,
    minPropagationMillis,
    maxPropagationMillis,
    `claims took up to ${minPropagationMillis} ms to reach an idle BIRD fabric, so a shorter wait voids the safety guarantee`
  )

/** `metric`: a whole number 1025..4294967295, behind every routing daemon's (default 4096). */
export const parseMetric = (value: number): number | CniError => {
  if (!isWhole(value, 0, 4294967295))
    return invalid("metric", `${value} must be a whole number 0..4294967295`)
  if (value < minMetric) {
    return invalid(
      "metric",
      `${value} does not stay behind the routing daemon's routes (IPv6 default 1024, BIRD 32, FRR 20): a competing claim would be hidden or refused with EEXIST; use ${minMetric} or more (default ${knobDefaults.metric})`
    )
  }
  return value
}

/** Longest `fabricHealth.timeout` accepted: the check runs before every ADD. */
const maxHealthTimeoutMillis = 10_000

/**
 * `fabricHealth`: absent or `{"type": "none"}` = never asked; `{"type": "bird", "socket"?,
 * "minEstablished"?, "protocols"?, "timeout"?}` = ask BIRD; `onUnhealthy`: "fail" | "proceed".
 */
export const parseFabricHealth = (
  entry: FabricHealthEntry | undefined
): { readonly fabricHealth: FabricHealthSettings; readonly onUnhealthy: OnUnhealthy } | CniError => {
  if (entry === undefined) return { fabricHealth: { type: "none" }, onUnhealthy: knobDefaults.onUnhealthy }
  const onUnhealthy = entry.onUnhealthy ?? knobDefaults.onUnhealthy
  if (onUnhealthy !== "fail" && onUnhealthy !== "proceed") {
    return invalid("fabricHealth.onUnhealthy", `${JSON.stringify(onUnhealthy)} must be "fail" or "proceed"`)
  }
  if (entry.type === "none") return { fabricHealth: { type: "none" }, onUnhealthy }
  if (entry.type !== "bird") {
    const got = entry.type === undefined ? "missing" : `${JSON.stringify(entry.type)} is not supported`
    return invalid("fabricHealth.type", `${got}; use "none" or "bird"`)
  }
  const { socket, minEstablished, protocols } = entry
  if (socket !== undefined && !socket.startsWith("/"))
    return invalid("fabricHealth.socket", `${JSON.stringify(socket)} must be an absolute path`)
  if (minEstablished !== undefined && !isWhole(minEstablished, 1, 1000))
    return invalid("fabricHealth.minEstablished", `${minEstablished} must be a whole number 1..1000`)
  if (protocols !== undefined) {
    if (protocols.length === 0)
      return invalid("fabricHealth.protocols", "must name at least one BGP protocol (or be left out)")
    const bad = protocols.findIndex((name) => !/^\S+$/.test(name))
    if (bad >= 0) {
      return invalid(
        `fabricHealth.protocols[${bad}]`,
        `${JSON.stringify(protocols[bad])} is not a BIRD protocol name`
      )
    }
  }
  const timeout =
    entry.timeout === undefined
      ? undefined
      : parseDuration("fabricHealth.timeout", entry.timeout, 1, maxHealthTimeoutMillis)
  if (timeout instanceof Error) return timeout
  return {
    fabricHealth: {
      type: "bird",
      ...(socket === undefined ? {} : { socket }),
      ...(minEstablished === undefined ? {} : { minEstablished }),
      ...(protocols === undefined ? {} : { protocols }),
      ...(timeout === undefined ? {} : { timeout })
    },
    onUnhealthy
  }
}

/** `routeProtocol`: 5..255; the kernel reserves 0..4 (unspec, redirect, kernel, boot, static). */
export const parseRouteProtocol = (value: number): number | CniError => {
  if (isWhole(value, 0, 4)) {
    return invalid(
      "routeProtocol",
      `${value} is reserved by the kernel (0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static); use 5..255 (default 192)`
    )
  }
  return isWhole(value, 5, 255)
    ? value
    : invalid("routeProtocol", `${value} must be a whole number in 5..255`)
}

/** `table`: "main" (254) or a table number 1..4294967295. */
export const parseTable = (value: number | string): number | CniError => {
  if (value === "main") return 254
  if (typeof value === "number" && isWhole(value, 1, 4294967295)) return value
  return invalid("table", `${JSON.stringify(value)} must be "main" or a table number 1..4294967295`)
}

/** `device`: an interface name, or its index (>= 1). */
export const parseDevice = (value: string | number): string | number | CniError => {
  if (typeof value === "number") {
    return isWhole(value, 1, 2147483647)
      ? value
      : invalid("device", `${value} is not an interface index (>= 1)`)
  }
  const problem = checkIfname(value)
  return problem === undefined ? value : invalid("device", problem.message)
}

const logLevels: Record<string, LogLevel.LogLevel> = {
  none: "None",
  fatal: "Fatal",
  error: "Error",
  warn: "Warn",
  warning: "Warn",
  info: "Info",
  debug: "Debug",
  trace: "Trace",
  all: "All"
}

const decodeLogFormat = Schema.decodeUnknownOption(LogFormat)

/**
 * `log`: a file path, or `{ file?, level?, format?, maxBytes? }` with level
 * none|error|warn|info|debug|trace (default warn), format "text"|"json" (default text) and
 * maxBytes the rotation size (default 10 MiB; 0 never rotates).
 */
export const parseLog = (value: IpamConf["log"]): LogSettings | CniError => {
  const entry = typeof value === "string" ? { file: value } : (value ?? {})
  const file = entry.file
  if (file !== undefined) {
    const problem = pathProblem(file)
    if (problem !== undefined) return invalid("log.file", problem)
    if (standardStreamPaths.includes(Path.posix.normalize(file))) {
      return invalid(
        "log.file",
        `${JSON.stringify(file)} is the plugin's stdin or stdout, which carry the CNI JSON; leave log.file out to log to stderr`
      )
    }
  }
  const levelText = "level" in entry ? entry.level : undefined
  const level = levelText === undefined ? knobDefaults.logLevel : logLevels[levelText.toLowerCase()]
  if (level === undefined) {
    return invalid(
      "log.level",
      `${JSON.stringify(levelText)} must be one of none, error, warn, info, debug, trace`
    )
  }
  const formatText = "format" in entry ? entry.format : undefined
  const format = formatText === undefined ? Option.some(knobDefaults.logFormat) : decodeLogFormat(formatText)
  if (Option.isNone(format)) {
    return invalid("log.format", `${JSON.stringify(formatText)} must be "text" or "json"`)
  }
  const maxBytes = "maxBytes" in entry ? entry.maxBytes : undefined
  if (maxBytes !== undefined && !isWhole(maxBytes, 0, Number.MAX_SAFE_INTEGER)) {
    return invalid("log.maxBytes", `${maxBytes} must be a whole number of bytes >= 0 (0: never rotate)`)
  }
  return { file, level, format: format.value, maxBytes: maxBytes ?? knobDefaults.logMaxBytes }
}

/** Check every knob of `ipam` (absent ones take their defaults); the first problem wins. */
export const parseKnobs = (ipam: IpamConf): IpamKnobs | CniError => {
  const propagationTimeout =
    ipam.propagationTimeout === undefined
      ? Duration.millis(knobDefaults.propagationTimeoutMillis)
      : parsePropagationTimeout(ipam.propagationTimeout)
  if (propagationTimeout instanceof Error) return propagationTimeout
  const routeProtocol =
    ipam.routeProtocol === undefined ? knobDefaults.routeProtocol : parseRouteProtocol(ipam.routeProtocol)
  if (routeProtocol instanceof Error) return routeProtocol
  const table = ipam.table === undefined ? knobDefaults.table : parseTable(ipam.table)
  if (table instanceof Error) return table
  const device = ipam.device === undefined ? undefined : parseDevice(ipam.device)
  if (device instanceof Error) return device
  const metric = ipam.metric === undefined ? knobDefaults.metric : parseMetric(ipam.metric)
  if (metric instanceof Error) return metric
  const maxAttempts = ipam.maxAttempts ?? knobDefaults.maxAttempts
  if (!isWhole(maxAttempts, 1, 1000))
    return invalid("maxAttempts", `${maxAttempts} must be a whole number 1..1000`)
  const dataDir = ipam.dataDir ?? knobDefaults.dataDir
  const badDataDir = pathProblem(dataDir)
  if (badDataDir !== undefined) return invalid("dataDir", badDataDir)
  const log = parseLog(ipam.log)
  if (log instanceof Error) return log
  const health = parseFabricHealth(ipam.fabricHealth)
  if (health instanceof Error) return health
  return {
    propagationTimeout,
    routeProtocol,
    table,
    device,
    metric,
    maxAttempts,
    tieBreak: ipam.tieBreak ?? knobDefaults.tieBreak,
    dataDir,
    log,
    fabricHealth: health.fabricHealth,
    onUnhealthy: health.onUnhealthy
  }
}
