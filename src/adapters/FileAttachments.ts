// Owner records as files: one JSON file per attachment under <dataDir>/<network>/, replaced atomically.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  promises as Fs,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
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

/*
 * `Fs` (node:fs/promises, for the read paths that still use it) is `fs.promises`: the bundle reads
 * that property where it is used, so the module (and the 15 built-ins it loads: readline, repl
 * history, watchers) is loaded only by a call that uses it, not by every CNI call that imports us.
 *
 * The write path (put, remove, get, the counters) uses blocking calls: a CNI call does one thing
 * at a time, and each promise call of node:fs/promises cost a thread-pool round trip, a FileHandle
 * and a few fibers' worth of CPU (~0.3-0.5 ms each, ~15 of them per ADD). The order of the calls,
 * and so what reaches the disk when (write, fsync, rename, fsync of the directory), is unchanged.
 */

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
      rmSync(Path.join(dir, name), { force: true })
    } catch {
      // best effort: the next write or removal of this record tries again
    }
  }
}

/**
 * Write `text` to `path` atomically: a fresh temp file in the same directory, fsync, rename, fsync
 * the directory. The directory is made when missing; if the write fails, the directories it made
 * are removed again (a failed ADD leaves no empty `<dataDir>/<network>/`).
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
      temp = Path.join(dir, `${temporaryPrefixOf(recordName)}${process.pid}-${temporarySuffix()}`)
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
  syncDirectory(dir)
}

/** fsync a directory: a rename or unlink in it is on disk once this returns. */
const syncDirectory = (dir: string): void => {
  const directory = openSync(dir, "r")
  try {
    fsyncSync(directory)
  } finally {
    closeSync(directory)
  }
}

/**
 * Remove a record, the temporary files a killed writer of it left, and its network directory
 * once empty (a failed ADD leaves none behind). Only the record's removal can fail.
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
 */
const readIfPresentNow = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8")
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return undefined
    throw cause
  }
}

/** Read a file; undefined when it does not exist. */
const readIfPresent = async (path: string): Promise<string | undefined> => {
  try {
    return await Fs.readFile(path, "utf8")
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return undefined
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
        Effect.try({
          try: () => {
            try {
              return readdirSync(dir)
            } catch (cause) {
              if (codeOf(cause) === "ENOENT") return []
              throw cause
            }
          },
          catch: ioError("list", dir)
        }).pipe(
          Effect.tap((names) => removeStaleTemporaries(dir, names)),
          Effect.flatMap((names) => {
            const records: Array<Attachment> = []
            const corrupt: Array<{ readonly path: string; readonly problem: string }> = []
            for (const name of names.filter(isRecordName)) {
              const path = Path.join(dir, name)
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
        Effect.tryPromise({
          try: async () => {
            let names: Array<string>
            try {
              names = await Fs.readdir(dir)
            } catch (cause) {
              if (codeOf(cause) === "ENOENT") return []
              throw cause
            }
            const found: Array<QuarantinedRecord> = []
            for (const name of names.filter((n) => n.startsWith(quarantinePrefix))) {
              const text = await readIfPresent(Path.join(dir, name))
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
 * Best effort: a failure here never fails `list`.
 */
const removeStaleTemporaries = (dir: string, names: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const now = Date.now()
    for (const name of names.filter((n) => n.startsWith(".tmp-"))) {
      const path = Path.join(dir, name)
      try {
        const stat = await Fs.stat(path)
        if (now - stat.mtimeMs > staleTemporaryMillis) await Fs.rm(path, { force: true })
      } catch {
        // gone already, or unreadable: leave it
      }
    }
  })

/** The file store under `dataDir`; directories are created (mode 0700) when first written. */
export const layer = (dataDir: string): Layer.Layer<Attachments> => Layer.succeed(Attachments, make(dataDir))
