// Network configs for the plugin's e2e suites, and the temporary data directories they write to.
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** A temporary directory for `ipam.dataDir`; remove it with `removeDataDir`. */
export const makeDataDir = (): string => mkdtempSync(path.join(tmpdir(), "rtipam-e2e-"))

/** Remove a directory made by `makeDataDir`. */
export const removeDataDir = (dir: string): void => rmSync(dir, { recursive: true, force: true })

/**
 * The ADD outcome counters (`<network>/.counters.json` and the deltas under `<network>/.counters.d/`):
 * metrics that outlive every ADD on purpose, including refused ones. "Leaves nothing behind" means
 * no record, temporary file or route.
 */
export const isCountersFile = (relative: string): boolean =>
  path.basename(relative) === ".counters.json" || relative.split(path.sep).includes(".counters.d")

/** The network directory that holds a counters entry. */
const networkDirOf = (counters: string): string => counters.split(`${path.sep}.counters`)[0] ?? counters

/**
 * Entries under `dir` (relative, sorted) other than the counters and the network directories
 * that hold nothing else ([] when `dir` does not exist).
 */
export const leftBehind = (dir: string): ReadonlyArray<string> => {
  let entries: Array<string>
  try {
    entries = (readdirSync(dir, { recursive: true }) as Array<string>).map(String)
  } catch {
    return []
  }
  const kept = entries.filter((e) => !isCountersFile(e))
  const counted = entries.filter(isCountersFile).map(networkDirOf)
  return kept.filter((e) => !counted.includes(e) || kept.some((other) => other.startsWith(`${e}/`))).sort()
}

/** Every regular file under `dir` but the counters, relative to it, sorted ([] when `dir` does not exist). */
export const filesUnder = (dir: string): ReadonlyArray<string> => {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
      .filter((relative) => !isCountersFile(relative))
      .sort()
  } catch {
    return []
  }
}

/**
 * The network config an IPAM plugin receives (the parent's whole config): cniVersion, name,
 * ipam (with the test's dataDir and a 20 ms propagation timeout unless overridden), plus `extra`
 * top-level keys (runtimeConfig, args, prevResult, cni.dev/valid-attachments, ...).
 */
export const netConf = (
  cniVersion: string,
  dataDir: string,
  ipam: Readonly<Record<string, unknown>>,
  extra?: Readonly<Record<string, unknown>>
): Record<string, unknown> => ({
  cniVersion,
  name: "e2e",
  type: "bridge",
  ...extra,
  ipam: { type: "routetable-ipam", dataDir, propagationTimeout: "20ms", ...ipam }
})
