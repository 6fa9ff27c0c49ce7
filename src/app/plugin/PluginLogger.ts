// Where the plugin's logs go: a file (rotated by size) or stderr, as text or JSON, at the configured level; never stdout (it carries the JSON).
import { closeSync, constants, fstatSync, openSync, renameSync, statSync, writeSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import type { LogFormat, LogSettings } from "../../adapters/cni/IpamKnobs.ts"

/**
 * Open flags of a log write: append, create, and never block (a FIFO without a reader fails with
 * ENXIO instead of hanging the plugin until the runtime kills it).
 */
const appendFlags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK

/** One line per entry: logfmt ("text") or one JSON object ("json"). */
const formatterOf = (format: LogFormat) => (format === "json" ? Logger.formatJson : Logger.formatLogFmt)

/**
 * Open `file` for appending; when it is a regular file of at least `maxBytes` (0: never), rename
 * it to `<file>.1` (replacing an older one) and open a fresh file. Another process may have
 * rotated it between our open and our rename: then the path names a new file and we keep ours.
 */
const openRotated = (file: string, maxBytes: number): number => {
  const fd = openSync(file, appendFlags, 0o640)
  if (maxBytes === 0) return fd
  const opened = fstatSync(fd)
  if (!opened.isFile() || opened.size < maxBytes) return fd
  try {
    const now = statSync(file)
    if (now.dev !== opened.dev || now.ino !== opened.ino) return fd
    renameSync(file, `${file}.1`)
  } catch {
    return fd // cannot rotate (read-only directory, raced): keep appending
  }
  closeSync(fd)
  return openSync(file, appendFlags, 0o640)
}

/** One line per entry appended to `file`, rotated by size; a write failure never fails the plugin. */
const fileLogger = (file: string, format: LogFormat, maxBytes: number) => {
  const formatter = formatterOf(format)
  return Logger.make((options) => {
    try {
      const fd = openRotated(file, maxBytes)
      try {
        writeSync(fd, `${formatter.log(options)}\n`)
      } finally {
        closeSync(fd)
      }
    } catch {
      // logging must never change the outcome of a CNI call
    }
  })
}

/** One line per entry on stderr. */
export const stderrLoggerOf = (format: LogFormat) => {
  const formatter = formatterOf(format)
  return Logger.make((options) => {
    process.stderr.write(`${formatter.log(options)}\n`)
  })
}

/** One logfmt line per entry on stderr. */
export const stderrLogger = stderrLoggerOf("text")

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
  if (log.file === undefined) return stderrLoggerOf(log.format)
  if (isStdout(log.file)) {
    process.stderr.write(
      `ipam.log.file ${JSON.stringify(log.file)} is stdout, which carries the CNI JSON: logging to stderr\n`
    )
    return stderrLoggerOf(log.format)
  }
  return fileLogger(log.file, log.format, log.maxBytes)
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
