// Where the plugin's logs go: a file or stderr, at the configured level; never stdout (it carries the JSON).
import { closeSync, constants, fstatSync, openSync, statSync, writeSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import type { LogSettings } from "../../adapters/cni/IpamKnobs.ts"

/**
 * Open flags of a log write: append, create, and never block (a FIFO without a reader fails with
 * ENXIO instead of hanging the plugin until the runtime kills it).
 */
const appendFlags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK

/** One logfmt line per entry appended to `file`; a write failure never fails the plugin. */
const fileLogger = (file: string) =>
  Logger.make((options) => {
    try {
      const fd = openSync(file, appendFlags, 0o640)
      try {
        writeSync(fd, `${Logger.formatLogFmt.log(options)}\n`)
      } finally {
        closeSync(fd)
      }
    } catch {
      // logging must never change the outcome of a CNI call
    }
  })

/** One logfmt line per entry on stderr. */
export const stderrLogger = Logger.make((options) => {
  process.stderr.write(`${Logger.formatLogFmt.log(options)}\n`)
})

/**
 * Whether `file` is, right now, the same file as this process's stdout (a symlink to it, or the
 * file a runtime redirected stdout to): then logging there would put lines next to the JSON.
 */
export const isStdout = (file: string): boolean => {
  try {
    const out = fstatSync(1)
    const target = statSync(file)
    return out.dev === target.dev && out.ino === target.ino
  } catch {
    return false // no stdout, or no such file yet (then it cannot be stdout)
  }
}

/** The logger for `log`: its file, unless that is stdout (then stderr, and a warning there). */
const loggerFor = (log: LogSettings) => {
  if (log.file === undefined) return stderrLogger
  if (isStdout(log.file)) {
    process.stderr.write(
      `ipam.log.file ${JSON.stringify(log.file)} is stdout, which carries the CNI JSON: logging to stderr\n`
    )
    return stderrLogger
  }
  return fileLogger(log.file)
}

/** Run `effect` with the plugin's loggers replaced by the configured one, at the configured level. */
export const withPluginLogger =
  (log: LogSettings) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() =>
      effect.pipe(
        Effect.provide(Logger.layer([loggerFor(log)])),
        Effect.provideService(References.MinimumLogLevel, log.level)
      )
    )
