// Loads a native addon from its bytes: written into a fresh private directory, dlopened, removed.
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
