// A request refused before its config decoded (codes 1, 4, 6, 7) is still logged: to the config's own log settings when they alone decode, else to stderr.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { CniError } from "../../adapters/cni/CniError.ts"
import { knobDefaults, type LogSettings, parseLog } from "../../adapters/cni/IpamKnobs.ts"
import { LogEntry } from "../../adapters/cni/NetConf.ts"
import { withPluginLogger } from "./PluginLogger.ts"

/** The stderr log at warning: where a runtime (containerd, CRI-O, podman) keeps a plugin's stderr. */
const stderrWarnings: LogSettings = {
  file: undefined,
  level: knobDefaults.logLevel,
  format: knobDefaults.logFormat,
  maxBytes: knobDefaults.logMaxBytes
}

const decodeLogEntry = Schema.decodeUnknownOption(Schema.Struct({ ipam: Schema.Struct({ log: LogEntry }) }))

/**
 * The log settings of a config that did not decode as a whole: its `ipam.log` when that alone is
 * valid (an operator who set a log file finds the refusal there), else stderr at warning.
 */
export const earlyLogSettings = (json: unknown): LogSettings => {
  const entry = decodeLogEntry(json)
  if (Option.isNone(entry)) return stderrWarnings
  const log = parseLog(entry.value.ipam.log)
  return log instanceof Error ? stderrWarnings : log
}

/** What is known of a refused request: the verb and, when the environment named them, the owner. */
export interface EarlyRequest {
  readonly command: string
  readonly containerId?: string | undefined
  readonly ifname?: string | undefined
  /** The network config's JSON, when stdin parsed. */
  readonly json?: unknown
}

/** At most 128 characters of a value that may be what was refused (a 10 kB container ID). */
const clipped = (text: string): string => (text.length > 128 ? `${text.slice(0, 128)}...` : text)

/** Log a refusal that happened before the request decoded, at warning, with its code. */
export const logEarlyFailure = (request: EarlyRequest, error: CniError): Effect.Effect<void> =>
  Effect.logWarning(`${request.command} refused: code ${error.code}: ${error.msg}`).pipe(
    Effect.annotateLogs({
      command: request.command,
      code: error.code,
      ...(request.containerId === undefined ? {} : { container: clipped(request.containerId) }),
      ...(request.ifname === undefined ? {} : { ifname: clipped(request.ifname) }),
      ...(error.details === undefined ? {} : { details: error.details })
    }),
    withPluginLogger(earlyLogSettings(request.json))
  )
