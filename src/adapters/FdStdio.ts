// The process's stdin, stdout and stderr as effect's Stdio, read and written with blocking calls on fds 0-2: no stream or socket objects.
import { readSync, writeSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type PlatformError, systemError } from "effect/PlatformError"
import * as Sink from "effect/Sink"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"

/**
 * Why not NodeStdio: `process.stdin` / `process.stdout` on a pipe are `net.Socket`s, so touching
 * them loads Node's stream and socket stack (about 30 built-in modules) on every CNI call, for a
 * few KiB read once and one line written once. A blocking read or write of a pipe, a file or a
 * terminal is what those objects end up doing anyway for a process that does nothing else.
 *
 * Gotcha: a descriptor some parent left non-blocking (O_NONBLOCK on the shared open file) answers
 * EAGAIN instead of waiting. Then the rest goes through `process.stdin` / `process.stdout` /
 * `process.stderr`, which wait for the descriptor through the event loop.
 */

/** Bytes asked for per read of stdin. */
const readChunkBytes = 64 * 1024

const codeOf = (cause: unknown): unknown =>
  typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined

const failure = (method: "stdin" | "stdout" | "stderr", fd: number, cause: unknown): PlatformError =>
  systemError({
    module: "Stdio",
    method,
    _tag: "Unknown",
    pathOrDescriptor: fd,
    description: cause instanceof Error ? cause.message : String(cause),
    cause
  })

/**
 * Everything readable on fd 0 until end of file, one chunk per read, read only as fast as the
 * consumer pulls (a consumer that stops at a size limit stops the reads).
 */
const stdin: Stream.Stream<Uint8Array, PlatformError> = Stream.suspend(() => {
  let wouldBlock = false
  const direct = Stream.unfold(undefined, () =>
    Effect.try({
      try: (): readonly [Uint8Array, undefined] | undefined => {
        const buffer = new Uint8Array(readChunkBytes)
        let read: number
        try {
          read = readSync(0, buffer, 0, readChunkBytes, null)
        } catch (cause) {
          if (codeOf(cause) !== "EAGAIN") throw cause
          wouldBlock = true
          return undefined
        }
        return read === 0 ? undefined : [buffer.subarray(0, read), undefined]
      },
      catch: (cause) => failure("stdin", 0, cause)
    })
  )
  const rest = Stream.suspend(() =>
    wouldBlock
      ? Stream.fromAsyncIterable<Uint8Array, PlatformError>(process.stdin, (cause) =>
          failure("stdin", 0, cause)
        )
      : Stream.empty
  )
  return Stream.concat(direct, rest)
})

/** Each chunk written whole to `fd`; what a non-blocking descriptor refuses goes through the process's stream for it. */
const writerOf =
  (method: "stdout" | "stderr", fd: 1 | 2) =>
  (chunk: string | Uint8Array): Effect.Effect<void, PlatformError> =>
    Effect.suspend(() => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk
      let offset = 0
      try {
        while (offset < bytes.byteLength) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset)
        return Effect.void
      } catch (cause) {
        if (codeOf(cause) !== "EAGAIN") return Effect.fail(failure(method, fd, cause))
      }
      const rest = bytes.subarray(offset)
      return Effect.callback<void, PlatformError>((resume) => {
        const stream = fd === 1 ? process.stdout : process.stderr
        stream.write(rest, (error) =>
          resume(error == null ? Effect.void : Effect.fail(failure(method, fd, error)))
        )
      })
    })

/**
 * Whether `fd` is a terminal; loads node:tty (and with it the socket stack) only when asked. Not
 * `import()`: the bundle runs the program as a vm.Script, which has no dynamic import of its own.
 */
const isTerminal = (fd: 0 | 1 | 2): Effect.Effect<boolean> =>
  Effect.sync(() => process.getBuiltinModule("node:tty").isatty(fd))

/** Stdio on fds 0, 1 and 2. `endOnDone` is ignored: the descriptors stay open until the process exits. */
export const make = (): Stdio.Stdio =>
  Stdio.make({
    args: Effect.sync(() => process.argv.slice(2)),
    stdinIsTerminal: isTerminal(0),
    stdoutIsTerminal: isTerminal(1),
    stderrIsTerminal: isTerminal(2),
    stdin,
    stdout: () => Sink.forEach(writerOf("stdout", 1)),
    stderr: () => Sink.forEach(writerOf("stderr", 2))
  })

/** The Stdio of the CNI plugin's process. */
export const layer: Layer.Layer<Stdio.Stdio> = Layer.sync(Stdio.Stdio, make)
