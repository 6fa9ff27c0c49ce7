// Runs built executables the way a CNI runtime does (own process, given env) and watches their temp files.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { currentNetns, initialNetnsVariable } from "../support/NetnsGuard.ts"

/** What a finished process left behind. */
export interface Finished {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `command` (an executable file, or a wrapper such as `unshare` followed by it) with a minimal
 * environment: PATH starts with the directory of the Node running the tests (so `#!/usr/bin/env node`
 * finds Node 24), plus `env`. The runner's network namespace is passed on for the fixture's guard.
 */
export const runExecutable = (
  command: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Promise<Finished> =>
  new Promise((resolve, reject) => {
    const [file, ...args] = command
    if (file === undefined) throw new Error("empty command")
    const child = spawn(file, args, {
      env: {
        PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        [initialNetnsVariable]: currentNetns(),
        ...env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

/** A fresh private directory under the system temp dir. */
export const freshDirectory = (label: string): string =>
  fs.mkdtempSync(path.join(os.tmpdir(), `rtipam-build-test-${label}-`))

/** Copies `file` alone into a fresh directory (as an operator copies it to /opt/cni/bin). */
export const copyAlone = (file: string, label: string): string => {
  const target = path.join(freshDirectory(label), path.basename(file))
  fs.copyFileSync(file, target)
  fs.chmodSync(target, 0o755)
  return target
}

/**
 * Records the names created directly inside `directory` (inotify), so a test can tell that a process
 * made, say, an addon directory there even if it removed it again before exiting.
 */
export const watchCreations = (
  directory: string
): { readonly created: () => Promise<ReadonlyArray<string>>; readonly close: () => void } => {
  const names = new Set<string>()
  const watcher = fs.watch(directory, (_event, name) => {
    if (name !== null) names.add(name)
  })
  return {
    created: async () => {
      await new Promise((resolve) => setTimeout(resolve, 100))
      return [...names]
    },
    close: () => watcher.close()
  }
}

/** Prefix of the private directories the addon loader creates. */
export const addonDirectoryPrefix = "routetable-ipam-addon-"
