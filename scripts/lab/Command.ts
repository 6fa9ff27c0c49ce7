// Runs one external command to completion and collects its output (the lab's only way to act).
import { spawn } from "node:child_process"

/** What a finished command left behind. `code` is null when a signal ended it. */
export interface CommandResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Extra input for a command: bytes on stdin, added environment variables, a time limit. */
export interface CommandOptions {
  readonly stdin?: string | Uint8Array
  readonly env?: Readonly<Record<string, string>>
  readonly timeoutMs?: number
}

/** Run `command args`; never rejects for a non-zero exit (look at `code`), only if it cannot start. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: CommandOptions = {}
): Promise<CommandResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs })
    })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    child.on("error", reject)
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8")
      })
    )
    child.stdin.on("error", () => {})
    child.stdin.end(options.stdin ?? "")
  })

/** Run `command args` and fail with its stderr unless it exits 0; resolves to stdout. */
export const runChecked = async (
  command: string,
  args: ReadonlyArray<string>,
  options: CommandOptions = {}
): Promise<string> => {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    const how = result.code === null ? `signal ${result.signal}` : `exit ${result.code}`
    throw new Error(`${command} ${args.join(" ")}: ${how}: ${result.stderr.trim()}`)
  }
  return result.stdout
}
