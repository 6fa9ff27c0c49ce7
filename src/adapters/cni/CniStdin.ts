// Standard input of one invocation, read whole but capped (a network config is a few KiB).
import * as Effect from "effect/Effect"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { CniCode, type CniError, cniError } from "./CniError.ts"

/** Largest network config accepted on stdin: 1 MiB. */
export const maxStdinBytes = 1024 * 1024

/** All of stdin as UTF-8 text; more than `limit` bytes is code 6, a read failure code 5. */
export const readStdin = (limit: number = maxStdinBytes): Effect.Effect<string, CniError, Stdio.Stdio> =>
  Effect.gen(function* () {
    const stdio = yield* Stdio.Stdio
    const chunks: Array<Uint8Array> = []
    let total = 0
    yield* stdio.stdin.pipe(
      Stream.mapError((e) => cniError(CniCode.ioFailure, `stdin: cannot be read: ${e.message}`)),
      Stream.runForEach((chunk) => {
        total += chunk.byteLength
        if (total > limit) {
          return Effect.fail(
            cniError(CniCode.decodingFailure, `stdin: the network config is larger than ${limit} bytes`)
          )
        }
        chunks.push(chunk)
        return Effect.void
      })
    )
    const bytes = new Uint8Array(total)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
    return new TextDecoder().decode(bytes)
  })
