// A private network namespace for kernel tests, as root or not: a holder process plus nsenter.
import { type ChildProcess, spawn } from "node:child_process"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { currentNetns, expectedNetnsVariable, initialNetnsVariable } from "./NetnsGuard.ts"
import { isRoot } from "./Privileges.ts"

export { assertPrivateNetns } from "./NetnsGuard.ts"

/**
 * How commands enter the namespace.
 * - "user+net": `nsenter -U -n --preserve-credentials` (joins the holder's user namespace too;
 *   works without root).
 * - "net": `nsenter -n` only (root: keeps the real credentials and all capabilities).
 */
export type EnterMode = "user+net" | "net"

export interface ExecOptions {
  readonly stdin?: string | Uint8Array
  /** Added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  /** Kill the command (by its PID) after this long; default 60 s. */
  readonly timeoutMs?: number
}

export interface ExecResult {
  /** Exit code; 128 + signal number when killed by a signal. */
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const runnerNetns = currentNetns()

const signalCodes: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

/** Start a process that unshares a network namespace, brings lo up, prints its ns id, then waits. */
const startHolder = (
  command: string,
  args: ReadonlyArray<string>
): Promise<{ process: ChildProcess; id: string }> =>
  new Promise((resolve, reject) => {
    // `cat` keeps the namespace alive until we kill it, or until our stdin pipe closes
    // (the test runner died): then the namespace disappears with it.
    const script = "ip link set lo up && readlink /proc/self/ns/net && exec cat >/dev/null"
    const holder = spawn(command, [...args, "sh", "-c", script], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const fail = (why: string) => {
      if (holder.exitCode === null) holder.kill("SIGKILL")
      reject(
        new Error(`cannot create a network namespace (${command} ${args.join(" ")}): ${why} ${err}`.trim())
      )
    }
    holder.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    holder.on("error", (error) => fail(error.message))
    holder.on("exit", (code) => fail(`holder exited with ${code}`))
    holder.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split("\n")
      if (line.length > 1) {
        holder.removeAllListeners("exit")
        resolve({ process: holder, id: (line[0] ?? "").trim() })
      }
    })
  })

/**
 * A network namespace held open by a process of ours; commands run in it through nsenter.
 * The namespace is `/proc/<pid>/ns/net`: usable as CNI_NETNS or `ip link ... netns <path>`.
 *
 * Gotchas:
 * - Every command gets `RTIPAM_NETNS_EXPECTED` (this namespace) and `RTIPAM_NETNS_INITIAL`
 *   (the test runner's), so a script inside can call `assertPrivateNetns()` before touching routes.
 * - `/sys/class/net` inside still shows the runner's devices: read indexes with `ip -o link`.
 */
export class Netns {
  /** PID of the holder process. */
  readonly pid: number
  /** `/proc/<pid>/ns/net`. */
  readonly path: string
  /** `net:[inode]`. */
  readonly id: string
  readonly enter: EnterMode
  readonly #holder: ChildProcess
  readonly #children: Array<Netns> = []

  private constructor(holder: ChildProcess, id: string, enter: EnterMode) {
    this.#holder = holder
    this.pid = holder.pid ?? -1
    this.path = `/proc/${this.pid}/ns/net`
    this.id = id
    this.enter = enter
  }

  /** A fresh namespace (holder made with `unshare -rn`). Default entry: "net" as root, else "user+net". */
  static async create(options?: { readonly enter?: EnterMode }): Promise<Netns> {
    const enter = options?.enter ?? (isRoot() ? "net" : "user+net")
    const { process: holder, id } = await startHolder("unshare", ["-rn"])
    return Netns.#checked(holder, id, enter)
  }

  /** `create` as a scoped resource: closed when the scope closes. */
  static scoped(options?: { readonly enter?: EnterMode }): Effect.Effect<Netns, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.promise(() => Netns.create(options)),
      (ns) => Effect.promise(() => ns.close())
    )
  }

  static #checked(holder: ChildProcess, id: string, enter: EnterMode): Netns {
    if (holder.pid === undefined || !/^net:\[\d+\]$/.test(id) || id === runnerNetns) {
      holder.kill("SIGKILL")
      throw new Error(`holder is not in a private network namespace (${id}, runner ${runnerNetns})`)
    }
    return new Netns(holder, id, enter)
  }

  /** nsenter arguments that run a command in this namespace. */
  nsenterArgs(): Array<string> {
    const target = ["-t", String(this.pid)]
    return this.enter === "net" ? [...target, "-n"] : [...target, "-U", "-n", "--preserve-credentials"]
  }

  /** The environment a command in this namespace gets. */
  environment(extra?: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
    return { ...process.env, ...extra, [expectedNetnsVariable]: this.id, [initialNetnsVariable]: runnerNetns }
  }

  /** Start a command in this namespace (for concurrency); the caller owns the process. */
  spawn(
    command: string,
    args: ReadonlyArray<string>,
    options?: Omit<ExecOptions, "stdin" | "timeoutMs">
  ): ChildProcess {
    return spawn("nsenter", [...this.nsenterArgs(), "--", command, ...args], {
      env: this.environment(options?.env),
      stdio: ["pipe", "pipe", "pipe"],
      ...(options?.cwd === undefined ? {} : { cwd: options.cwd })
    })
  }

  /** Run a command in this namespace to completion. Never rejects for a non-zero exit. */
  exec(command: string, args: ReadonlyArray<string>, options?: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(command, args, options)
      const stdout: Array<Buffer> = []
      const stderr: Array<Buffer> = []
      const timer = setTimeout(() => child.kill("SIGKILL"), options?.timeoutMs ?? 60_000)
      child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk))
      child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk))
      child.on("error", (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.on("close", (code, signal) => {
        clearTimeout(timer)
        resolve({
          code: code ?? 128 + (signal === null ? 0 : (signalCodes[signal] ?? 0)),
          stdout: Buffer.concat(stdout).toString(),
          stderr: Buffer.concat(stderr).toString()
        })
      })
      child.stdin?.on("error", () => {})
      child.stdin?.end(options?.stdin ?? "")
    })
  }

  /** Like `exec`, but rejects unless the command exits 0; resolves with its stdout. */
  async run(command: string, args: ReadonlyArray<string>, options?: ExecOptions): Promise<string> {
    const result = await this.exec(command, args, options)
    if (result.code !== 0) {
      throw new Error(`${command} ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`)
    }
    return result.stdout
  }

  /**
   * A second namespace made from inside this one (a "container" for CNI tests): its `path`
   * can be given as CNI_NETNS to a process running here, which may setns into it or move links
   * into it (`ip link add a type veth peer name b netns <path>`). Closed with this one.
   */
  async createChild(): Promise<Netns> {
    const { process: holder, id } = await startHolder("nsenter", [
      ...this.nsenterArgs(),
      "--",
      "unshare",
      "-n"
    ])
    const child = Netns.#checked(holder, id, this.enter)
    if (child.id === this.id) {
      await child.close()
      throw new Error(`child namespace is the parent's (${id})`)
    }
    this.#children.push(child)
    return child
  }

  /** Kill the holder (and children's holders) by PID and wait for them to exit. Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.#children.splice(0).map((child) => child.close()))
    const holder = this.#holder
    if (holder.exitCode !== null || holder.signalCode !== null) return
    const exited = new Promise<void>((resolve) => holder.once("exit", () => resolve()))
    holder.kill("SIGKILL")
    await exited
  }
}
