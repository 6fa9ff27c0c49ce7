// ADD outcome counters under `<dataDir>/<network>/`: one small delta file per ADD, folded into `.counters.json` now and then.
import * as Fs from "node:fs"
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

/** The folded total's name inside a network's directory (a dot name: never read as an owner record). */
export const countersFileName = ".counters.json"

/** The directory of deltas not folded yet, inside a network's directory. */
export const countersDeltaDirName = ".counters.d"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Counts = {
  won: Schema.optionalKey(Count),
  lostRaces: Schema.optionalKey(Count),
  refused: Schema.optionalKey(Count),
  exhausted: Schema.optionalKey(Count),
  tryAgainLater: Schema.optionalKey(Count)
}
/** The total; `folded`: the deltas it already includes that may still exist (a fold removes them after). */
const TotalFile = Schema.Struct({ ...Counts, folded: Schema.optionalKey(Schema.Array(Schema.String)) })
const DeltaFile = Schema.Struct(Counts)
const decodeTotal = Schema.decodeUnknownOption(Schema.fromJsonString(TotalFile))
const decodeDelta = Schema.decodeUnknownOption(Schema.fromJsonString(DeltaFile))

interface Total {
  readonly counts: AddOutcomeCounts
  readonly folded: ReadonlySet<string>
}

/** The file's text; `"vanished"` when it does not exist (any other failure reads as nothing). */
const readText = (file: string): string | "vanished" | undefined => {
  try {
    return Fs.readFileSync(file, "utf8")
  } catch (cause) {
    return (cause as NodeJS.ErrnoException).code === "ENOENT" ? "vanished" : undefined
  }
}

/** The file's text, or undefined when it is missing or unreadable. */
const readTextOrNothing = (file: string): string | undefined => {
  const text = readText(file)
  return text === "vanished" ? undefined : text
}

/** The total in `text`; a missing, torn or foreign file reads as zero (counting starts again). */
const parseTotal = (text: string | undefined): Total => {
  const decoded = text === undefined ? undefined : decodeTotal(text)
  if (decoded === undefined || decoded._tag === "None") return { counts: noOutcomes, folded: new Set() }
  const { folded, ...counts } = decoded.value
  return { counts: sumOutcomes(noOutcomes, counts), folded: new Set(folded ?? []) }
}

/** A finished delta's name (temporaries start with a dot and are never read). */
const isDeltaName = (name: string): boolean => !name.startsWith(".") && name.endsWith(".json")

const deltaNames = (dir: string): ReadonlyArray<string> => {
  try {
    return Fs.readdirSync(dir).filter(isDeltaName).sort()
  } catch {
    return []
  }
}

/** Write `text` to `file` whole or not at all: a temporary file (O_EXCL, 0600), fsynced when `durable`, renamed. */
const writeWhole = (dir: string, file: string, text: string, durable: boolean): void => {
  const temp = Path.join(dir, `.tmp-${Path.basename(file)}-${process.pid}-${temporarySuffix()}`)
  try {
    const fd = Fs.openSync(temp, "wx", 0o600)
    try {
      Fs.writeSync(fd, text)
      if (durable) Fs.fsyncSync(fd)
    } finally {
      Fs.closeSync(fd)
    }
    Fs.renameSync(temp, file)
  } finally {
    Fs.rmSync(temp, { force: true })
  }
}

/** Temporaries of writers that died before their rename: older than this, nobody is writing them. */
const staleTemporaryMillis = 60_000

/**
 * Counters under `dataDir`, safe for any number of processes at once:
 * - `add` writes the delta as its own file in `<network>/.counters.d/` (temporary file, rename), so
 *   concurrent ADDs never wait for each other to count, and a crash loses at most its own delta;
 * - `read` sums the total and the deltas it does not name as folded; a delta that vanishes while
 *   it reads (a fold removed it) makes it read again, so a reader never sees a count go down;
 * - `fold` (one folder at a time: its caller holds the network's NodeLock) writes the new total
 *   naming the deltas it includes, fsynced, and only then removes them: a crash in between leaves
 *   them named as folded, and they are never counted twice.
 * Failures are swallowed: see the port.
 */
export const make = (dataDir: string): AddOutcomesService => {
  const dirOf = (network: string) =>
    checkNetworkName(network) === undefined ? Path.join(dataDir, network) : undefined
  /**
   * The total plus every delta it does not name, and the deltas listed. A delta that vanishes
   * while it is read (a fold removed it: the total read may predate that fold) makes it read
   * again; an unreadable one (another user's file) counts as nothing, as an unreadable total does.
   */
  const readNow = (
    dir: string
  ): { readonly counts: AddOutcomeCounts; readonly names: ReadonlyArray<string> } => {
    const deltas = Path.join(dir, countersDeltaDirName)
    for (;;) {
      const names = deltaNames(deltas)
      const total = parseTotal(readTextOrNothing(Path.join(dir, countersFileName)))
      let counts = total.counts
      let vanished = false
      for (const name of names) {
        if (total.folded.has(name)) continue
        const text = readText(Path.join(deltas, name))
        if (text === "vanished") {
          vanished = true
          break
        }
        const delta = text === undefined ? undefined : decodeDelta(text)
        if (delta?._tag === "Some") counts = sumOutcomes(counts, delta.value)
      }
      if (!vanished) return { counts, names }
    }
  }
  return {
    add: (network, delta) =>
      Effect.sync(() => {
        const dir = dirOf(network)
        if (dir === undefined) return 0
        const deltas = Path.join(dir, countersDeltaDirName)
        try {
          // not mkdir -p: Node's loops forever where a parent answers ENOENT though it exists (/proc)
          makeDirectories(deltas)
          const name = `${process.pid}-${temporarySuffix()}.json`
          // no fsync: a delta lost to a power cut is one count, and a torn one reads as nothing
          writeWhole(deltas, Path.join(deltas, name), `${JSON.stringify(delta)}\n`, false)
          return deltaNames(deltas).length
        } catch {
          // a read-only or full disk loses this count, never the ADD
          return 0
        }
      }),
    read: (network) =>
      Effect.sync(() => {
        const dir = dirOf(network)
        return dir === undefined ? noOutcomes : readNow(dir).counts
      }),
    fold: (network) =>
      Effect.sync(() => {
        const dir = dirOf(network)
        if (dir === undefined) return
        const deltas = Path.join(dir, countersDeltaDirName)
        try {
          const { counts, names } = readNow(dir)
          // renamed only once on disk: a crash leaves the old total (deltas still there) or the new one (deltas named)
          writeWhole(
            dir,
            Path.join(dir, countersFileName),
            `${JSON.stringify({ ...counts, folded: names })}\n`,
            true
          )
          for (const name of names) Fs.rmSync(Path.join(deltas, name), { force: true })
          const now = Date.now()
          for (const name of Fs.readdirSync(deltas)) {
            if (!name.startsWith(".tmp-")) continue
            const file = Path.join(deltas, name)
            if (now - Fs.statSync(file).mtimeMs > staleTemporaryMillis) Fs.rmSync(file, { force: true })
          }
        } catch {
          // the deltas stay; the next fold takes them
        }
      })
  }
}

/** The counters of `dataDir` as the AddOutcomes service. */
export const layer = (dataDir: string): Layer.Layer<never> => Layer.succeed(AddOutcomes, make(dataDir))
