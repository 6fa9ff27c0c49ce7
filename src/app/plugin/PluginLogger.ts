// Where the plugin's logs go: a file or stderr, at the configured level; never stdout (it carries the JSON).
import { appendFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import type { LogSettings } from "../../adapters/cni/IpamKnobs.ts"

/** One logfmt line per entry appended to `file`; a write failure never fails the plugin. */
const fileLogger = (file: string) =>
  Logger.make((options) => {
    try {
      appendFileSync(file, `${Logger.formatLogFmt.log(options)}\n`, { mode: 0o640 })
    } catch {
      // logging must never change the outcome of a CNI call
    }
  })

/** One logfmt line per entry on stderr. */
export const stderrLogger = Logger.make((options) => {
  process.stderr.write(`${Logger.formatLogFmt.log(options)}\n`)
})

/** Run `effect` with the plugin's loggers replaced by the configured one, at the configured level. */
export const withPluginLogger =
  (log: LogSettings) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(
      Effect.provide(Logger.layer([log.file === undefined ? stderrLogger : fileLogger(log.file)])),
      Effect.provideService(References.MinimumLogLevel, log.level)
    )
