// Network configs for the plugin's e2e suites, and the temporary data directories they write to.
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** A temporary directory for `ipam.dataDir`; remove it with `removeDataDir`. */
export const makeDataDir = (): string => mkdtempSync(path.join(tmpdir(), "rtipam-e2e-"))

/** Remove a directory made by `makeDataDir`. */
export const removeDataDir = (dir: string): void => rmSync(dir, { recursive: true, force: true })

/** Every regular file under `dir`, relative to it, sorted ([] when `dir` does not exist). */
export const filesUnder = (dir: string): ReadonlyArray<string> => {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
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
