// Loads a native addon from its bytes: one verified copy per user and content, reused; else a fresh private copy per call.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/**
 * Directories to try, in order, for the short-lived copy of the addon. `os.tmpdir()` comes first;
 * the others cover hosts whose /tmp is mounted noexec (dlopen then fails to map the file). The
 * directory of the executable itself comes last: it is exec-able by definition.
 */
export const addonDirectoryCandidates = (executableDirectory: string | undefined): ReadonlyArray<string> => {
  const candidates = [
    os.tmpdir(),
    process.env.XDG_RUNTIME_DIR,
    "/dev/shm",
    "/run",
    executableDirectory
  ].filter((dir): dir is string => dir !== undefined && dir !== "")
  return [...new Set(candidates)]
}

/**
 * Loads the addon whose shared-object bytes are given and returns its exports. For each candidate
 * directory: create a private 0700 directory inside it (`mkdtemp`, unpredictable name), write the
 * file there, `process.dlopen` it with RTLD_NOW, and remove the directory again (the mapping stays
 * valid after unlink). The first candidate that works wins; if none does, the error lists every
 * attempt. Writes nothing to stdout.
 */
export const loadNativeAddon = (
  bytes: Uint8Array,
  options: { readonly fileName: string; readonly directories: ReadonlyArray<string> }
): unknown => {
  const failures: Array<string> = []
  for (const directory of options.directories) {
    let privateDirectory: string | undefined
    try {
      privateDirectory = fs.mkdtempSync(path.join(directory, "routetable-ipam-addon-"))
      const file = path.join(privateDirectory, options.fileName)
      fs.writeFileSync(file, bytes, { mode: 0o700, flag: "wx" })
      const module = { exports: {} }
      process.dlopen(module, file, os.constants.dlopen.RTLD_NOW)
      return module.exports
    } catch (error) {
      failures.push(`${directory}: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      if (privateDirectory !== undefined) removeQuietly(privateDirectory)
    }
  }
  throw new Error(`cannot load native addon ${options.fileName}; tried ${failures.join("; ")}`)
}

const removeQuietly = (directory: string): void => {
  try {
    fs.rmSync(directory, { recursive: true, force: true })
  } catch {
    // a leftover private directory is harmless; failing the load for it is not
  }
}

/**
 * Loads the addon from one copy kept for every later call, so a call no longer writes 120 KiB and
 * makes and removes a directory. The copy lives at `<candidate>/routetable-ipam-addon-<euid>/<id>-<fileName>`
 * (`id`: the content's hash, from the build). Nothing is trusted by name:
 * - the directory must be a real directory (not a symlink), owned by this process's euid, mode
 *   0700: one pre-created by another user (to plant a library, or just to block us) is not used;
 * - the file is opened with O_NOFOLLOW, must be a regular file owned by the euid, writable by
 *   nobody else, and hold exactly `bytes` (compared byte by byte; a torn or foreign file is
 *   replaced by write-temp-and-rename);
 * - it is dlopened through `/proc/self/fd/<fd>` of that verified open file, so a rename between
 *   check and load cannot swap what is loaded.
 * Any failure (noexec mount, no /proc, a hostile directory) falls back to `loadNativeAddon`:
 * slower, never less safe.
 */
export const loadCachedNativeAddon = (
  bytes: Uint8Array,
  options: { readonly fileName: string; readonly id: string; readonly directories: ReadonlyArray<string> }
): unknown => {
  const euid = process.geteuid?.() ?? -1
  if (euid >= 0 && /^[0-9a-f]{8,64}$/.test(options.id)) {
    for (const directory of options.directories) {
      try {
        const exports = loadFromCache(
          bytes,
          path.join(directory, `routetable-ipam-addon-${euid}`),
          euid,
          options
        )
        if (exports !== undefined) return exports
      } catch {
        // this candidate cannot hold the copy: try the next one
      }
    }
  }
  return loadNativeAddon(bytes, options)
}

/** A directory we may trust: ours, 0700, not a symlink; made when missing. */
const ownPrivateDirectory = (directory: string, euid: number): boolean => {
  try {
    fs.mkdirSync(directory, { mode: 0o700 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") return false
  }
  const stat = fs.lstatSync(directory)
  return stat.isDirectory() && stat.uid === euid && (stat.mode & 0o777) === 0o700
}

/** The exports of the verified copy in `directory`, writing it first when missing or wrong; undefined if unusable. */
const loadFromCache = (
  bytes: Uint8Array,
  directory: string,
  euid: number,
  options: { readonly fileName: string; readonly id: string }
): unknown => {
  if (!ownPrivateDirectory(directory, euid)) return undefined
  const file = path.join(directory, `${options.id}-${options.fileName}`)
  for (let attempt = 0; attempt < 2; attempt++) {
    const fd = openVerified(file, bytes, euid)
    if (fd !== undefined) {
      try {
        const module = { exports: {} }
        process.dlopen(module, `/proc/self/fd/${fd}`, os.constants.dlopen.RTLD_NOW)
        return module.exports
      } finally {
        fs.closeSync(fd)
      }
    }
    if (attempt === 0) replaceCopy(file, bytes)
  }
  return undefined
}

/** An open fd of `file` when it is a regular file of ours, writable only by us, holding exactly `bytes`. */
const openVerified = (file: string, bytes: Uint8Array, euid: number): number | undefined => {
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  } catch {
    return undefined
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile() || stat.uid !== euid || (stat.mode & 0o022) !== 0 || stat.size !== bytes.length)
      throw new Error("not our copy")
    const content = Buffer.alloc(bytes.length)
    let read = 0
    while (read < content.length) {
      const n = fs.readSync(fd, content, read, content.length - read, read)
      if (n === 0) break
      read += n
    }
    if (read !== bytes.length || !content.equals(bytes)) throw new Error("not our copy")
    return fd
  } catch {
    fs.closeSync(fd)
    return undefined
  }
}

/** Write `bytes` to a fresh temporary file beside `file` and rename it over `file`. */
const replaceCopy = (file: string, bytes: Uint8Array): void => {
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`
  try {
    fs.writeFileSync(temp, bytes, { mode: 0o700, flag: "wx" })
    fs.renameSync(temp, file)
  } catch {
    removeQuietly(temp)
  }
}
