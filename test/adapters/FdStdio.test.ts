// FdStdio in a child process: stdin read whole from a socket, a file or a non-blocking FIFO, stdout written whole even when the descriptor refuses, without Node's socket stack.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"

const projectRoot = Path.resolve(import.meta.dirname, "../..")
const node = Path.join(projectRoot, "node_modules/.bin/node")
const adapter = Path.join(projectRoot, "src/adapters/FdStdio.ts")

/**
 * A child that copies its stdin to its stdout through a Stdio layer (FdStdio unless `layer` names
 * another module's export), then writes to stderr the byte count and whether `net` got loaded.
 */
const echoScript = (layerModule = adapter) => `
  import * as Effect from "effect/Effect"
  import * as Stdio from "effect/Stdio"
  import * as Stream from "effect/Stream"
  import { writeSync } from "node:fs"
  import { layer } from ${JSON.stringify(layerModule)}
  let bytes = 0
  writeSync(2, "ready\\n")
  await Effect.runPromise(Effect.gen(function* () {
    const stdio = yield* Stdio.Stdio
    yield* stdio.stdin.pipe(Stream.tap((chunk) => Effect.sync(() => { bytes += chunk.byteLength })), Stream.run(stdio.stdout()))
  }).pipe(Effect.provide(layer)))
  writeSync(2, JSON.stringify({ bytes, net: process.moduleLoadList.includes("NativeModule net") }))
`

interface Echoed {
  readonly status: number | null
  readonly stdout: Buffer
  readonly report: {
    readonly bytes: number
    readonly net: boolean
    readonly terminals?: ReadonlyArray<boolean>
  }
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/**
 * Perl (in every Debian base) sets O_NONBLOCK on a descriptor and execs the child: libuv, and so
 * Node's spawn, always hands a child blocking stdio, as Go's os/exec does.
 */
const nonBlocking = (stream: "STDIN" | "STDOUT"): ReadonlyArray<string> => [
  "perl",
  "-MFcntl",
  "-e",
  `fcntl(${stream}, F_SETFL, fcntl(${stream}, F_GETFL, 0) | O_NONBLOCK) or die; exec { $ARGV[0] } @ARGV`
]

/** Run the echo child with the given stdio; feed `input` (`delayMs` after it said it is ready) when stdin is a pipe; collect stdout when it is a pipe. */
const runEcho = (options: {
  readonly stdio: [number | "pipe", number | "pipe"]
  readonly input?: Uint8Array
  readonly delayMs?: number
  readonly wrapper?: ReadonlyArray<string>
  readonly script?: string
}): Promise<Echoed> =>
  new Promise((resolve, reject) => {
    const [file = node, ...args] = [
      ...(options.wrapper ?? []),
      node,
      "--input-type=module",
      "-e",
      options.script ?? echoScript()
    ]
    const child = spawn(file, args, { cwd: projectRoot, stdio: [options.stdio[0], options.stdio[1], "pipe"] })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout?.on("data", (b: Buffer) => out.push(b))
    const { input } = options
    let fed = false
    child.stderr?.on("data", (b: Buffer) => {
      err.push(b)
      // the child's modules are loaded and its first read is about to happen: feed stdin a little later
      if (!fed && input !== undefined && Buffer.concat(err).toString().startsWith("ready\n")) {
        fed = true
        setTimeout(() => child.stdin?.end(input), options.delayMs ?? 0)
      }
    })
    child.on("error", reject)
    child.on("close", (status) => {
      const text = Buffer.concat(err).toString()
      try {
        resolve({ status, stdout: Buffer.concat(out), report: JSON.parse(text.replace(/^ready\n/, "")) })
      } catch {
        reject(new Error(`child exited ${status}: ${text}`))
      }
    })
  })

const bytesOf = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 9)) & 0xff
  return bytes
}

const scratch: Array<string> = []
const freshDirectory = () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rtipam-fdstdio-"))
  scratch.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of scratch.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
})

/** A FIFO in a fresh directory (mkfifo(1)). */
const fifo = (): string => {
  const path = Path.join(freshDirectory(), "fifo")
  const made = spawnSync("mkfifo", [path])
  assert.strictEqual(made.status, 0, String(made.stderr))
  return path
}

describe("FdStdio", () => {
  it("copies 200 KiB from a socket stdin to a socket stdout (several reads), without loading net", async () => {
    const input = bytesOf(200 * 1024)
    const run = await runEcho({ stdio: ["pipe", "pipe"], input })
    assert.strictEqual(run.status, 0)
    assert.strictEqual(run.report.bytes, input.byteLength)
    assert.strictEqual(sha(run.stdout), sha(input))
    assert.isFalse(run.report.net)
  })

  it("negative control: the same child on NodeStdio loads net (the check above can fail)", async () => {
    const run = await runEcho({
      stdio: ["pipe", "pipe"],
      input: bytesOf(1000),
      script: echoScript(Path.join(projectRoot, "node_modules/@effect/platform-node/dist/NodeStdio.js"))
    })
    assert.strictEqual(run.status, 0)
    assert.strictEqual(run.report.bytes, 1000)
    assert.isTrue(run.report.net)
  })

  it("knows whether stdin, stdout and stderr are terminals (none is, here)", async () => {
    const run = await runEcho({
      stdio: ["pipe", "pipe"],
      input: bytesOf(10),
      script: `
        import * as Effect from "effect/Effect"
        import * as Stdio from "effect/Stdio"
        import { writeSync } from "node:fs"
        import { layer } from ${JSON.stringify(adapter)}
        writeSync(2, "ready\\n")
        const terminals = await Effect.runPromise(Effect.flatMap(Stdio.Stdio, (stdio) =>
          Effect.all([stdio.stdinIsTerminal, stdio.stdoutIsTerminal, stdio.stderrIsTerminal])).pipe(Effect.provide(layer)))
        writeSync(2, JSON.stringify({ bytes: 0, net: false, terminals }))`
    })
    assert.strictEqual(run.status, 0)
    assert.deepStrictEqual(run.report.terminals, [false, false, false])
  })

  it("reads a regular file given as stdin, and an empty one", async () => {
    const dir = freshDirectory()
    for (const size of [70_000, 0]) {
      const file = Path.join(dir, `in-${size}`)
      const input = bytesOf(size)
      Fs.writeFileSync(file, input)
      const fd = Fs.openSync(file, "r")
      try {
        const run = await runEcho({ stdio: [fd, "pipe"] })
        assert.strictEqual(run.status, 0)
        assert.strictEqual(run.report.bytes, size)
        assert.strictEqual(sha(run.stdout), sha(input))
      } finally {
        Fs.closeSync(fd)
      }
    }
  })

  it("a non-blocking stdin with nothing written yet (EAGAIN) is read whole through process.stdin", async () => {
    const input = bytesOf(100 * 1024)
    const run = await runEcho({ stdio: ["pipe", "pipe"], input, delayMs: 200, wrapper: nonBlocking("STDIN") })
    assert.strictEqual(run.status, 0)
    assert.strictEqual(run.report.bytes, input.byteLength)
    assert.strictEqual(sha(run.stdout), sha(input))
    // the fallback ran: process.stdin on a socket is a net.Socket
    assert.isTrue(run.report.net)
  })

  it("a non-blocking stdout that fills up (EAGAIN) still receives every byte, in order", async () => {
    const path = fifo()
    // O_NONBLOCK lets the read end open before a writer exists
    const readEnd = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK)
    const writeEnd = Fs.openSync(path, Fs.constants.O_WRONLY)
    const input = bytesOf(1024 * 1024)
    try {
      const running = runEcho({ stdio: ["pipe", writeEnd], input, wrapper: nonBlocking("STDOUT") })
      Fs.closeSync(writeEnd)
      // read nothing for a while: the FIFO (64 KiB) fills and the child's writes are refused
      await new Promise((resolve) => setTimeout(resolve, 300))
      const chunks: Array<Buffer> = []
      const buffer = Buffer.alloc(64 * 1024)
      for (;;) {
        let read: number
        try {
          read = Fs.readSync(readEnd, buffer)
        } catch (cause) {
          if ((cause as NodeJS.ErrnoException).code !== "EAGAIN") throw cause
          await new Promise((resolve) => setTimeout(resolve, 5))
          continue
        }
        if (read === 0) break
        chunks.push(Buffer.from(buffer.subarray(0, read)))
      }
      const run = await running
      assert.strictEqual(run.status, 0)
      assert.strictEqual(run.report.bytes, input.byteLength)
      assert.strictEqual(sha(Buffer.concat(chunks)), sha(input))
      // the fallback ran: process.stdout on a FIFO is a net.Socket
      assert.isTrue(run.report.net)
    } finally {
      Fs.closeSync(readEnd)
    }
  })
})
