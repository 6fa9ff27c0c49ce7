// Owner records as files: one JSON file per attachment under <dataDir>/<network>/, replaced atomically.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import {
  type Attachment,
  type AttachmentKey,
  Attachments,
  AttachmentsError,
  byContainerThenIfname,
  type PodName,
  type QuarantinedRecord
} from "../domain/Attachments.ts"
import {
  checkAttachmentKey,
  checkNetworkName,
  type InvalidIdentifier,
  maxIfnameBytes
} from "../domain/ContainerId.ts"
import { formatIp, type Ip, parseIp } from "../domain/Ip.ts"

/** Longest file name most Linux file systems take (NAME_MAX). */
export const maxFileNameBytes = 255

/**
 * File name of a record: `<containerId>@<ifname>.json`. A container ID never contains '@', so
 * the name is unambiguous (with '.' as separator, "a.b"+"c" and "a"+"b.c" would share a file).
 * Names starting with '.' are never records (a valid container ID starts with a letter or digit):
 * they are temporary files.
 */
export const fileNameOf = (key: Pick<AttachmentKey, "containerId" | "ifname">): string =>
  `${key.containerId}@${key.ifname}.json`

/**
 * Longest container ID (in bytes; valid IDs are ASCII) whose record name fits NAME_MAX with the
 * longest interface name: 255 - "@" - 15 - ".json" = 234. The CNI decoder refuses longer IDs up
 * front (code 4), so no container is ever added that could not be deleted.
 */
export const maxContainerIdBytes = maxFileNameBytes - "@".length - maxIfnameBytes - ".json".length

const isRecordName = (name: string): boolean => !name.startsWith(".") && name.endsWith(".json")

/** A corrupt record moved aside: `.corrupt.<record file name>.<ms>`, never read as a record again. */
const quarantinePrefix = ".corrupt."

/** The record file name a quarantined file came from. */
const quarantinedFrom = (name: string): string => name.slice(quarantinePrefix.length).replace(/\.\d+$/, "")

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const ioError = (operation: string, path: string) => (cause: unknown) =>
  new AttachmentsError({
    operation,
    message: `${path}: ${cause instanceof Error ? cause.message : String(cause)}`
  })

const invalidKey = (operation: string, problem: InvalidIdentifier) =>
  new AttachmentsError({ operation, message: `${problem.field}: ${problem.message}` })

/** The record's file, computed only from a key that passed validation. */
const recordPath = (
  dataDir: string,
  operation: string,
  key: AttachmentKey
): Effect.Effect<string, AttachmentsError> => {
  const problem = checkAttachmentKey(key)
  if (problem !== undefined) return Effect.fail(invalidKey(operation, problem))
  const name = fileNameOf(key)
  if (Buffer.byteLength(name) > maxFileNameBytes) {
    return Effect.fail(
      new AttachmentsError({
        operation,
        message: `containerId: too long for a file name (${Buffer.byteLength(name)} > ${maxFileNameBytes} bytes with the interface name)`
      })
    )
  }
  return Effect.succeed(Path.join(dataDir, key.network, name))
}

const networkDir = (
  dataDir: string,
  operation: string,
  network: string
): Effect.Effect<string, AttachmentsError> => {
  const problem = checkNetworkName(network)
  return problem === undefined
    ? Effect.succeed(Path.join(dataDir, network))
    : Effect.fail(invalidKey(operation, problem))
}

/** The file's JSON text. */
export const encodeRecord = (attachment: Attachment): string =>
  `${JSON.stringify(
    {
      containerId: attachment.containerId,
      ifname: attachment.ifname,
      network: attachment.network,
      addresses: attachment.addresses.map(formatIp),
      pending: attachment.pending.map(formatIp),
      ...(attachment.boot === undefined ? {} : { boot: attachment.boot }),
      ...(attachment.writtenAt === undefined ? {} : { writtenAt: attachment.writtenAt }),
      ...(attachment.pod === undefined ? {} : { pod: attachment.pod })
    },
    null,
    2
  )}\n`

/** A record from the file's text, or what is wrong with it. */
export const decodeRecord = (text: string): Attachment | string => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return "not JSON"
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object"
  const fields = value as Record<string, unknown>
  for (const field of ["containerId", "ifname", "network"] as const) {
    if (typeof fields[field] !== "string") return `${field} is not a string`
  }
  const addresses = decodeIps(fields.addresses)
  if (typeof addresses === "string") return `addresses: ${addresses}`
  const pending = decodeIps(fields.pending)
  if (typeof pending === "string") return `pending: ${pending}`
  if (fields.boot !== undefined && typeof fields.boot !== "string") return "boot is not a string"
  if (fields.writtenAt !== undefined && !Number.isFinite(fields.writtenAt)) return "writtenAt is not a number"
  const pod = decodePod(fields.pod)
  return {
    containerId: fields.containerId as string,
    ifname: fields.ifname as string,
    network: fields.network as string,
    addresses,
    pending,
    ...(fields.boot === undefined ? {} : { boot: fields.boot as string }),
    ...(fields.writtenAt === undefined ? {} : { writtenAt: fields.writtenAt as number }),
    ...(pod === undefined ? {} : { pod })
  }
}

/**
 * The record's pod, `{name, namespace?}` of strings. Anything else reads as no pod: the name is
 * for operators only and never decides anything, so it must not make a record corrupt (quarantined).
 */
const decodePod = (value: unknown): PodName | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const { name, namespace } = value as Record<string, unknown>
  if (typeof name !== "string") return undefined
  return typeof namespace === "string" ? { namespace, name } : { name }
}

/** Every address that can still be read in a corrupt record's text (quoted IP literals). */
export const salvageAddresses = (text: string): ReadonlyArray<Ip> => {
  const found: Array<Ip> = []
  for (const match of text.matchAll(/"([0-9A-Fa-f.:]{2,45})"/g)) {
    const parsed = parseIp(match[1] ?? "")
    if (Option.isSome(parsed)) found.push(parsed.value)
  }
  return found
}

const decodeIps = (value: unknown): ReadonlyArray<Ip> | string => {
  if (!Array.isArray(value)) return "not an array"
  const ips: Array<Ip> = []
  for (const text of value) {
    const parsed = typeof text === "string" ? parseIp(text) : Option.none()
    if (Option.isNone(parsed)) return `not an IP address: ${JSON.stringify(text)}`
    ips.push(parsed.value)
  }
  return ips
}

/** What is wrong with a decoded record found at `network`/`fileName`, if anything. */
const misfiled = (record: Attachment, network: string, fileName: string): string | undefined => {
  const problem = checkAttachmentKey(record)
  if (problem !== undefined) return `${problem.field}: ${problem.message}`
  if (record.network !== network || fileNameOf(record) !== fileName) {
    return `holds ${record.network}/${fileNameOf(record)}, not ${network}/${fileName}`
  }
  return undefined
}

/**
 * Prefix of the temporary files of one record: `.tmp-<12 hex digits of the record name's hash>-`,
 * followed by the writer's PID and a random part. A writer killed between create and rename
 * leaves such a file; the next write or removal of the same record deletes it once its writer
 * is gone (`list` also removes any temporary file older than a minute).
 */
export const temporaryPrefixOf = (recordName: string): string => `.tmp-${nameHash48(recordName)}-`

/**
 * 48 bits of hash of a record name as 12 hex digits: two FNV-1a passes with different offset
 * bases. Not cryptographic and need not be: the prefix only groups a record's temporary files
 * (a collision lets one record's write delete another's leftover of a DEAD writer). node:crypto
 * cost every ADD and DEL ~3-5 ms to load.
 */
const nameHash48 = (text: string): string => {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193) >>> 0
    b = Math.imul(b ^ c, 0x01000193) >>> 0
  }
  return (a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0")).slice(0, 12)
}

/**
 * The unique part of a temporary file's name after the writer's PID: 64 random bits as 16 hex
 * digits. Only uniqueness matters (the file is created with O_EXCL in a 0700 directory): a leftover
 * of a killed writer whose PID we reuse must not collide with ours.
 */
export const temporarySuffix = (): string =>
  Array.from({ length: 4 }, () =>
    Math.floor(Math.random() * 0x10000)
      .toString(16)
      .padStart(4, "0")
  ).join("")

/** Whether process `pid` exists (EPERM: it does, owned by someone else). */
const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (cause) {
    return codeOf(cause) === "EPERM"
  }
}

/**
 * Make `dir` and its missing parents (mode 0700), one level at a time; the directories this call
 * created, outermost first. Unlike `mkdir -p` in Node (which loops forever where mkdir answers
 * ENOENT for a parent that exists, as under /proc), every failure ends the call at once.
 */
export const makeDirectories = (dir: string): ReadonlyArray<string> => {
  const missing: Array<string> = []
  for (let current = dir; ; current = Path.dirname(current)) {
    try {
      if (statSync(current).isDirectory()) break
      throw Object.assign(new Error(`ENOTDIR: not a directory: ${current}`), { code: "ENOTDIR" })
    } catch (cause) {
      if (codeOf(cause) !== "ENOENT" || Path.dirname(current) === current) throw cause
      missing.unshift(current)
    }
  }
  const created: Array<string> = []
  for (const path of missing) {
    try {
      mkdirSync(path, { mode: 0o700 })
      created.push(path)
    } catch (cause) {
      if (codeOf(cause) !== "EEXIST") throw cause
    }
  }
  return created
}

/** Remove the directories `created` (innermost first) while they are empty; never fails. */
const removeEmptyDirectories = (created: ReadonlyArray<string>): void => {
  for (const dir of [...created].reverse()) {
    try {
      rmdirSync(dir)
    } catch {
      return // not empty (another record, a lock) or gone: leave it
    }
  }
}

/** Delete the temporary files a dead writer of this record left in `dir`. Best effort. */
const removeTemporariesOf = (dir: string, recordName: string): void => {
  const prefix = temporaryPrefixOf(recordName)
  let names: ReadonlyArray<string>
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    const writer = Number(name.slice(prefix.length).split("-")[0])
    // our own process may be writing it right now; another live writer too
    if (Number.isSafeInteger(writer) && writer > 0 && (writer === process.pid || processAlive(writer)))
      continue
    try {
      rmSync(`${dir}/${name}`, { force: true })
    } catch {
      // best effort
    }
  }
}

/**
 * Write `text` to `path` atomically: a fresh temp file in the same directory, fsync, rename, fsync
 * the directory. The directory is made when missing; if the write fails, the directories it made
 * are removed again (a failed ADD leaves no empty `<dataDir>/<network>/`).
 *
 * Blocking, every step: ADD writes its record two or three times, and as ten promise steps (each
 * a thread-pool round trip and a few promises) a write cost ~4.6 ms of CPU in a fresh process
 * (measured in a 64-ADD burst). The fsyncs block the event loop instead of a pool thread; a
 * process of this plugin has nothing else to do meanwhile than wait for netlink replies or W,
 * which a few milliseconds later only lengthen (a verdict is never taken early by it).
 */
const writeAtomically = (path: string, text: string): void => {
  const dir = Path.dirname(path)
  const recordName = Path.basename(path)
  let created: ReadonlyArray<string> = []
  try {
    let file: number | undefined
    let temp = ""
    // a concurrent removal may rmdir the (empty) directory between mkdir and open: make it again
    for (let attempt = 1; file === undefined; attempt++) {
      created = [...created, ...makeDirectories(dir)]
      removeTemporariesOf(dir, recordName)
      temp = `${dir}/${temporaryPrefixOf(recordName)}${process.pid}-${temporarySuffix()}`
      try {
        file = openSync(temp, "wx", 0o600)
      } catch (cause) {
        if (codeOf(cause) !== "ENOENT" || attempt >= 3) throw cause
      }
    }
    try {
      try {
        writeFileSync(file, text)
        fsyncSync(file)
      } finally {
        closeSync(file)
      }
      renameSync(temp, path)
    } catch (cause) {
      rmSync(temp, { force: true })
      throw cause
    }
  } catch (cause) {
    removeEmptyDirectories(created)
    throw cause
  }
  const directory = openSync(dir, "r")
  try {
    fsyncSync(directory)
  } finally {
    closeSync(directory)
  }
}

/**
 * Remove a record, the temporary files a killed writer of it left, and its network directory
 * once empty (a failed ADD leaves none behind). Only the record's removal can fail. Blocking, as
 * the write.
 */
const removeRecord = (path: string): void => {
  rmSync(path, { force: true })
  const dir = Path.dirname(path)
  removeTemporariesOf(dir, Path.basename(path))
  removeEmptyDirectories([dir])
}

/**
 * Read a record file at once (blocking); undefined when it does not exist. `list` reads every
 * record of a network on each claim step and release: a blocking read of a small file costs
 * ~20 us, where a promise read (open, fstat, read, close on the thread pool, one fiber each)
 * cost ~0.5 ms per record in ADD's CPU profile, which a node of 64 pods paid on every call.
 * `get` reads the same way: ADD and DEL each call it twice, and a promise read cost ~1.7 ms of
 * CPU per call in a fresh process (measured in a burst).
 */
const readIfPresentNow = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8")
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return undefined
    throw cause
  }
}

/**
 * The names in a network directory (blocking, as the reads after it); empty when it does not exist.
 * `list` and `quarantined` run on every claim step and release, with the records read right after.
 */
const namesInNow = (dir: string): Array<string> => {
  try {
    return readdirSync(dir)
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return []
    throw cause
  }
}

/**
 * The Attachments port on files under `dataDir` (the plugin uses /var/lib/cni/routetable-ipam).
 *
 * Gotchas:
 * - Keys are validated (ContainerId.ts) before any path is built; an invalid key fails with
 *   AttachmentsError whose message starts with the field ("ifname: ...").
 * - a corrupt record is moved aside to `.corrupt.<name>.<ms>` by `get` or `list` (with a warning);
 *   `quarantined` reports it with the addresses still readable in it.
 * - records are stamped with the boot id (`boot`): after a reboot they are stale.
 */
export const make = (dataDir: string): Attachments["Service"] =>
  Attachments.of({
    get: (key) =>
      Effect.flatMap(recordPath(dataDir, "get", key), (path) =>
        Effect.flatMap(
          Effect.try({ try: () => readIfPresentNow(path), catch: ioError("get", path) }),
          (text) => {
            if (text === undefined) return Effect.succeed(undefined)
            const record = decodeRecord(text)
            const problem =
              typeof record === "string" ? record : misfiled(record, key.network, fileNameOf(key))
            return problem === undefined
              ? Effect.succeed(record as Attachment)
              : Effect.as(quarantine(path, problem), undefined)
          }
        )
      ),
    put: (attachment) =>
      Effect.flatMap(recordPath(dataDir, "put", attachment), (path) =>
        Effect.try({
          try: () => writeAtomically(path, encodeRecord(attachment)),
          catch: ioError("put", path)
        })
      ),
    remove: (key) =>
      Effect.flatMap(recordPath(dataDir, "remove", key), (path) =>
        Effect.try({ try: () => removeRecord(path), catch: ioError("remove", path) })
      ),
    list: (network) =>
      Effect.flatMap(networkDir(dataDir, "list", network), (dir) =>
        Effect.try({ try: () => namesInNow(dir), catch: ioError("list", dir) }).pipe(
          Effect.tap((names) => removeStaleTemporaries(dir, names)),
          Effect.flatMap((names) => {
            const records: Array<Attachment> = []
            const corrupt: Array<{ readonly path: string; readonly problem: string }> = []
            for (const name of names.filter(isRecordName)) {
              // `dir` is joined already and a name from readdir has no '/': no Path.join per record
              const path = `${dir}/${name}`
              let text: string | undefined
              try {
                text = readIfPresentNow(path)
              } catch (cause) {
                return Effect.fail(ioError("list", path)(cause))
              }
              // removed since readdir: not a record any more
              if (text === undefined) continue
              const record = decodeRecord(text)
              const problem = typeof record === "string" ? record : misfiled(record, network, name)
              if (problem === undefined) records.push(record as Attachment)
              else corrupt.push({ path, problem })
            }
            return Effect.as(
              Effect.forEach(corrupt, ({ path, problem }) => quarantine(path, problem), { discard: true }),
              records.sort(byContainerThenIfname)
            )
          })
        )
      ),
    quarantined: (network) =>
      Effect.flatMap(networkDir(dataDir, "quarantined", network), (dir) =>
        Effect.try({
          try: () => {
            const found: Array<QuarantinedRecord> = []
            for (const name of namesInNow(dir).filter((n) => n.startsWith(quarantinePrefix))) {
              const text = readIfPresentNow(`${dir}/${name}`)
              if (text === undefined) continue
              const decoded = decodeRecord(text)
              const reason =
                typeof decoded === "string"
                  ? decoded
                  : (misfiled(decoded, network, quarantinedFrom(name)) ?? "")
              found.push({ network, name, reason, addresses: salvageAddresses(text) })
            }
            return found
          },
          catch: ioError("quarantined", dir)
        })
      ),
    boot: currentBoot
  })

/** Where Linux tells this boot apart from every other one. */
const bootIdFile = "/proc/sys/kernel/random/boot_id"

let bootId: string | undefined

/**
 * This boot's id (read once per process). Unreadable: a constant, so records never turn stale
 * (as before boots were stamped), and a warning says reboots then rely on dataDir being on tmpfs.
 */
const currentBoot: Effect.Effect<string> = Effect.suspend(() =>
  bootId !== undefined
    ? Effect.succeed(bootId)
    : Effect.sync(() => {
        try {
          return readFileSync(bootIdFile, "utf8").trim()
        } catch {
          return "unknown"
        }
      }).pipe(
        Effect.tap((id) =>
          id === "unknown"
            ? Effect.logWarning(`cannot read ${bootIdFile}: records are not told apart by boot`)
            : Effect.void
        ),
        Effect.tap((id) =>
          Effect.sync(() => {
            bootId = id
          })
        )
      )
)

/**
 * Move a corrupt record aside (kept for the operator; `list` shows it, its addresses stay held).
 * Best effort: when the rename fails the file stays where it is and is skipped again next time.
 */
const quarantine = (path: string, problem: string): Effect.Effect<void> =>
  Effect.promise(async () => {
    const target = Path.join(Path.dirname(path), `${quarantinePrefix}${Path.basename(path)}.${Date.now()}`)
    await Fs.rename(path, target).catch(() => undefined)
  }).pipe(Effect.andThen(Effect.logWarning(`moved corrupt attachment record ${path} aside: ${problem}`)))

/** A temporary file this old was left by a writer that died (a write takes milliseconds). */
const staleTemporaryMillis = 60_000

/**
 * Remove `.tmp-*` files a killed writer left behind (SIGKILL between create and rename).
 * Best effort: a failure here never fails `list`. Blocking: in a burst every `list` finds the
 * temporary files of the writers of that moment, and a promise `stat` of each cost an ADD ~2 ms
 * of CPU (a ~20-record burst of one network, measured), a blocking one a few microseconds.
 */
const removeStaleTemporaries = (dir: string, names: ReadonlyArray<string>) =>
  Effect.sync(() => {
    const now = Date.now()
    for (const name of names.filter((n) => n.startsWith(".tmp-"))) {
      const path = `${dir}/${name}`
      try {
        const stat = statSync(path, { throwIfNoEntry: false })
        if (stat !== undefined && now - stat.mtimeMs > staleTemporaryMillis) rmSync(path, { force: true })
      } catch {
        // unreadable, or removed by someone else meanwhile: leave it
      }
    }
  })

/** The file store under `dataDir`; directories are created (mode 0700) when first written. */
export const layer = (dataDir: string): Layer.Layer<Attachments> => Layer.succeed(Attachments, make(dataDir))
