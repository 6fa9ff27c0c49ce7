// One BIRD daemon inside a lab namespace: start it, signal it by the PID in its pid file, read its sessions.
import { spawn } from "node:child_process"
import { closeSync, openSync, readFileSync, rmSync } from "node:fs"
import { setTimeout as sleep } from "node:timers/promises"
import { run } from "./Command.ts"

/** Where one node's daemon keeps its files. */
export interface BirdFiles {
  readonly netns: string
  readonly config: string
  readonly socket: string
  readonly pidFile: string
}

/** One line of `birdc show protocols` for a BGP protocol. */
export interface BgpSession {
  readonly name: string
  readonly state: string
  /** Since when the protocol is in its state, as BIRD printed it. */
  readonly since: string
  readonly info: string
}

/** The PID written in a pid file, if the file holds one. */
export const readPid = (pidFile: string): number | undefined => {
  try {
    const text = readFileSync(pidFile, "utf8").trim()
    return /^\d+$/.test(text) ? Number(text) : undefined
  } catch {
    return undefined
  }
}

/** Whether a process exists and is not a zombie (daemons are re-parented and may not be reaped). */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

const waitFor = async (condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

/**
 * Start BIRD in its namespace, in the foreground as a detached child of this process (so this process
 * reaps it; a daemonized BIRD would be left a zombie where PID 1 does not reap). `graceful` adds `-R`
 * (graceful restart recovery). Resolves with its PID once the pid file names it.
 */
export const startBird = async (files: BirdFiles, options: { readonly graceful?: boolean } = {}) => {
  rmSync(files.pidFile, { force: true })
  const recovery = options.graceful === true ? ["-R"] : []
  const args = ["netns", "exec", files.netns, "bird", "-f", "-c", files.config, "-s", files.socket]
  const stderrPath = `${files.pidFile}.stderr`
  const stderr = openSync(stderrPath, "w")
  const child = spawn("ip", [...args, "-P", files.pidFile, ...recovery], {
    detached: true,
    stdio: ["ignore", "ignore", stderr]
  })
  closeSync(stderr)
  let exited: string | undefined
  child.on("exit", (code, signal) => {
    exited = `exit ${code ?? signal}`
  })
  child.unref()
  await waitFor(
    () => {
      if (exited !== undefined && readPid(files.pidFile) === undefined) {
        throw new Error(
          `bird in ${files.netns} failed (${exited}): ${readFileSync(stderrPath, "utf8").trim()}`
        )
      }
      return readPid(files.pidFile) === child.pid
    },
    5_000,
    `${files.pidFile}`
  )
  return child.pid!
}

/** Wait until a process is gone (default limit 5 s). */
export const waitExit = (pid: number, timeoutMs = 5_000): Promise<void> =>
  waitFor(() => !isAlive(pid), timeoutMs, `PID ${pid} to exit`)

/** Send `signal` to a process and wait until it is gone (default limit 5 s). */
export const signalAndWait = async (pid: number, signal: NodeJS.Signals, timeoutMs = 5_000) => {
  if (!isAlive(pid)) return
  try {
    process.kill(pid, signal)
  } catch {
    return
  }
  await waitExit(pid, timeoutMs)
}

/**
 * `birdc graceful restart`: BIRD tells its peers it is restarting (they keep its routes as stale)
 * and exits, leaving its kernel routes in place; start it again with `-R`.
 */
export const gracefulShutdown = async (socket: string, pid: number): Promise<void> => {
  const result = await run("birdc", ["-s", socket, "graceful", "restart"], { timeoutMs: 5_000 })
  if (result.code !== 0) throw new Error(`birdc graceful restart: ${result.stdout}${result.stderr}`.trim())
  await waitExit(pid)
}

/** The BGP protocols of a running daemon, from `birdc show protocols`. */
export const bgpSessions = async (socket: string): Promise<ReadonlyArray<BgpSession>> => {
  const result = await run("birdc", ["-s", socket, "show", "protocols"], { timeoutMs: 5_000 })
  if (result.code !== 0) return []
  return result.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((columns) => columns[1] === "BGP")
    .map((columns) => {
      // `since` is one column ("05:31:09.797") or two ("2026-11-29 05:31:09.797", iso long)
      const sinceColumns =
        /^\d{4}-\d\d-\d\d$/.test(columns[4] ?? "") && /^\d\d:/.test(columns[5] ?? "") ? 2 : 1
      return {
        name: columns[0] ?? "",
        state: columns[3] ?? "",
        since: columns.slice(4, 4 + sinceColumns).join(" "),
        info: columns.slice(4 + sinceColumns).join(" ")
      }
    })
}

/** Wait until every daemon reports `peers` BGP sessions, all Established. */
export const waitEstablished = async (
  sockets: ReadonlyArray<string>,
  peers: number,
  timeoutMs = 30_000
): Promise<void> =>
  waitFor(
    async () => {
      const all = await Promise.all(sockets.map(bgpSessions))
      return all.every(
        (sessions) =>
          sessions.length === peers && sessions.every((session) => session.info.includes("Established"))
      )
    },
    timeoutMs,
    "every BGP session to be Established"
  )
