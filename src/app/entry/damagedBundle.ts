// What the plain bundle says when its payload cannot be read: a CNI error on stdout, the cause on stderr, exit status 1.
import * as fs from "node:fs"
import { latestVersion } from "../../adapters/cni/CniVersion.ts"

/**
 * Reports that the executable `file` cannot run its program (truncated, extended, replaced by
 * another build while starting, unreadable) and sets exit status 1; the program never runs.
 * Under a CNI runtime (CNI_COMMAND set) stdout gets the CNI error object with code 999 (internal
 * error, as CniCode.internal), so the runtime shows the message; stderr always gets it.
 */
export const reportDamagedBundle = (file: string, error: unknown): void => {
  const msg = `routetable-ipam: the executable ${file} is damaged or incomplete, install it again`
  const details = error instanceof Error ? error.message : String(error)
  if (process.env.CNI_COMMAND !== undefined)
    fs.writeSync(1, `${JSON.stringify({ cniVersion: latestVersion, code: 999, msg, details })}\n`)
  fs.writeSync(2, `${msg}: ${details}\n`)
  process.exitCode = 1
}
