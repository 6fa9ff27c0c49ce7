// The executable's VERSION fast path prints exactly what cniMain prints for VERSION, byte for byte.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { versionReply } from "../../../src/app/entry/versionReply.ts"
import { makeMemoryNode } from "../../../src/app/plugin/PluginAdapters.ts"
import { runCni } from "../plugin/CniHarness.ts"

describe("versionReply", () => {
  it.effect("equals cniMain's stdout for CNI_COMMAND=VERSION (rc 0)", () =>
    Effect.gen(function* () {
      const node = yield* makeMemoryNode()
      const out = yield* runCni(node, { CNI_COMMAND: "VERSION" }, "not read")
      assert.strictEqual(out.status, 0)
      assert.strictEqual(versionReply, out.stdout)
    })
  )
})
