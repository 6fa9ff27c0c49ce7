// Values of the plugin's own ipam keys (timeouts, route protocol, table, device, ...), checked one by one.
import * as Duration from "effect/Duration"
import type * as LogLevel from "effect/LogLevel"
import { checkIfname } from "../../domain/ContainerId.ts"
import { CniCode, type CniError, cniError } from "./CniError.ts"
import type { IpamConf } from "./NetConf.ts"

/** Where and how much the plugin logs. Without a file, logs go to stderr (never stdout). */
export interface LogSettings {
  readonly file: string | undefined
  readonly level: LogLevel.LogLevel
}

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
  logLevel: "Warn"
} as const

/** Longest propagation timeout accepted: runtimes kill plugins that take much longer. */
const maxPropagationMillis = 60_000

const invalid = (field: string, msg: string): CniError =>
  cniError(CniCode.invalidConfig, `ipam.${field}: ${msg}`)

const isWhole = (n: number, min: number, max: number): boolean =>
  Number.isSafeInteger(n) && n >= min && n <= max

const unitMillis: Record<string, number> = { ms: 1, s: 1000, m: 60_000 }

/** `propagationTimeout`: milliseconds as a number, or a string "250ms", "1s", "1.5s", "250". */
export const parsePropagationTimeout = (value: number | string): Duration.Duration | CniError => {
  let millis: number
  if (typeof value === "number") millis = value
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value)
    if (match === null) {
      return invalid(
        "propagationTimeout",
        `${JSON.stringify(value)} is not a duration; use milliseconds or "250ms", "1s"`
      )
    }
    millis = Number(match[1]) * unitMillis[match[2] ?? "ms"]!
  }
  if (!Number.isFinite(millis) || millis < 0 || millis > maxPropagationMillis) {
    return invalid(
      "propagationTimeout",
      `${JSON.stringify(value)} must be between 0 and ${maxPropagationMillis} ms`
    )
  }
  return Duration.millis(Math.round(millis))
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

/** `log`: a file path, or `{ file?, level? }` with level none|error|warn|info|debug|trace (default warn). */
export const parseLog = (value: IpamConf["log"]): LogSettings | CniError => {
  const entry = typeof value === "string" ? { file: value } : (value ?? {})
  const file = entry.file
  if (file !== undefined && !file.startsWith("/"))
    return invalid("log.file", `${JSON.stringify(file)} must be an absolute path`)
  const levelText = "level" in entry ? entry.level : undefined
  const level = levelText === undefined ? knobDefaults.logLevel : logLevels[levelText.toLowerCase()]
  if (level === undefined) {
    return invalid(
      "log.level",
      `${JSON.stringify(levelText)} must be one of none, error, warn, info, debug, trace`
    )
  }
  return { file, level }
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
  const metric = ipam.metric ?? knobDefaults.metric
  if (!isWhole(metric, 0, 4294967295))
    return invalid("metric", `${metric} must be a whole number 0..4294967295`)
  const maxAttempts = ipam.maxAttempts ?? knobDefaults.maxAttempts
  if (!isWhole(maxAttempts, 1, 1000))
    return invalid("maxAttempts", `${maxAttempts} must be a whole number 1..1000`)
  const dataDir = ipam.dataDir ?? knobDefaults.dataDir
  if (!dataDir.startsWith("/"))
    return invalid("dataDir", `${JSON.stringify(dataDir)} must be an absolute path`)
  const log = parseLog(ipam.log)
  if (log instanceof Error) return log
  return {
    propagationTimeout,
    routeProtocol,
    table,
    device,
    metric,
    maxAttempts,
    tieBreak: ipam.tieBreak ?? knobDefaults.tieBreak,
    dataDir,
    log
  }
}
