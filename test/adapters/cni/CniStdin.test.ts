// Tests of reading stdin: whole text across chunks, and the size cap.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { readStdin } from "../../../src/adapters/cni/CniStdin.ts"

const withStdin = (chunks: ReadonlyArray<string>) =>
  Stdio.layerTest({ stdin: Stream.fromIterable(chunks.map((c) => new TextEncoder().encode(c))) })

describe("CniStdin", () => {
  it.effect("readStdin - joins chunks, multi-byte characters split across them included", () =>
    Effect.gen(function* () {
      const bytes = new TextEncoder().encode('{"name":"né"}')
      const stdin = Stream.fromIterable([bytes.slice(0, 11), bytes.slice(11)])
      const text = yield* readStdin().pipe(Effect.provide(Stdio.layerTest({ stdin })))
      assert.strictEqual(text, '{"name":"né"}')
    })
  )

  it.effect("readStdin - more than the limit is code 6 naming stdin", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        yield* readStdin(10).pipe(Effect.provide(withStdin(["12345", "67890"]))),
        "1234567890"
      )
      const error = yield* Effect.flip(readStdin(10).pipe(Effect.provide(withStdin(["12345", "678901"]))))
      assert.strictEqual(error.code, 6)
      assert.include(error.msg, "stdin: the network config is larger than 10 bytes")
    })
  )
})
