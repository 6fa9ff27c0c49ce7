// ADD outcome counters in `<dataDir>/<network>/.counters.json`, replaced atomically (write a temporary file, rename).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import {
  type AddOutcomeCounts,
  AddOutcomes,
  type AddOutcomesService,
  noOutcomes,
  sumOutcomes
} from "../domain/AddOutcomes.ts"
import { checkNetworkName } from "../domain/ContainerId.ts"
import { makeDirectories, temporarySuffix } from "./FileAttachments.ts"

/** The file's name inside a network's directory (a dot name: never read as an owner record). */
export const countersFileName = ".counters.json"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const CountersFile = Schema.Struct({
  won: Schema.optionalKey(Count),
  lostRaces: Schema.optionalKey(Count),
  refused: Schema.optionalKey(Count),
  exhausted: Schema.optionalKey(Count),
  tryAgainLater: Schema.optionalKey(Count)
})
const decodeCounters = Schema.decodeUnknownOption(Schema.fromJsonString(CountersFile))

/** The counters in `text`; a missing, torn or foreign file reads as zero (counting starts again). */
const parseCounters = (text: string | undefined): AddOutcomeCounts => {
  if (text === undefined) return noOutcomes
  const decoded = decodeCounters(text)
  return decoded._tag === "Some" ? sumOutcomes(noOutcomes, decoded.value) : noOutcomes
}

const readText = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/**
 * Counters under `dataDir`. `add` reads, adds and renames a new file over the old one, so a crash
 * leaves either the old or the new counters (never a torn file); two writers must hold the
 * network's NodeLock (the plugin does). Failures are swallowed: see the port. Blocking calls, as
 * the record store's write path (FileAttachments.ts): one small file, nothing else to overlap.
 */
export const make = (dataDir: string): AddOutcomesService => {
  const fileOf = (network: string) =>
    checkNetworkName(network) === undefined ? Path.join(dataDir, network, countersFileName) : undefined
  return {
    add: (network, delta) =>
      Effect.sync(() => {
        const file = fileOf(network)
        if (file === undefined) return
        try {
          const next = sumOutcomes(parseCounters(readText(file)), delta)
          // not mkdir -p: Node's loops forever where a parent answers ENOENT though it exists (/proc)
          makeDirectories(Path.dirname(file))
          const temp = `${file}.tmp-${process.pid}-${temporarySuffix()}`
          try {
            const fd = openSync(temp, "wx", 0o600)
            try {
              writeFileSync(fd, `${JSON.stringify(next)}\n`)
              fsyncSync(fd) // renamed only once on disk: a crash leaves the old or the new counts
            } finally {
              closeSync(fd)
            }
            renameSync(temp, file)
          } finally {
            rmSync(temp, { force: true })
          }
        } catch {
          // a read-only or full disk loses this count, never the ADD
        }
      }),
    read: (network) =>
      Effect.sync(() => {
        const file = fileOf(network)
        return file === undefined ? noOutcomes : parseCounters(readText(file))
      })
  }
}

/** The counters of `dataDir` as the AddOutcomes service. */
export const layer = (dataDir: string): Layer.Layer<never> => Layer.succeed(AddOutcomes, make(dataDir))
