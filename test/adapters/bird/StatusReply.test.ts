// Tests of reading BIRD's own clock from `show status` replies captured from a real BIRD 2.0.12.
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import { inGracefulRestartRecovery, parseServerTime } from "../../../src/adapters/bird/StatusReply.ts"
import { fixtureReplies } from "./Fixtures.ts"

describe("StatusReply", () => {
  it("parseServerTime - iso long ms (deploy/bird/bird.conf) and the default, both with a date", () => {
    const [, long] = fixtureReplies("status-protocols-established")
    const [, short] = fixtureReplies("status-protocols-iso-short-ms")
    assert.deepStrictEqual(
      long === undefined ? undefined : parseServerTime(long),
      Result.succeed({
        _tag: "Timed",
        at: Date.UTC(2026, 10, 29, 5, 35, 14, 454),
        resolutionMs: 1,
        hasDate: true
      })
    )
    assert.deepStrictEqual(
      short === undefined ? undefined : parseServerTime(short),
      Result.succeed({
        _tag: "Timed",
        at: Date.UTC(2026, 10, 29, 5, 33, 11, 639),
        resolutionMs: 1,
        hasDate: true
      })
    )
  })

  it("parseServerTime - an error reply, no time line, an unreadable time: why", () => {
    const [, , denied] = fixtureReplies("restricted")
    assert.deepStrictEqual(
      denied === undefined ? undefined : parseServerTime(denied),
      Result.fail("BIRD answered 8007 Access denied")
    )
    assert.deepStrictEqual(
      parseServerTime({ lines: [{ code: 13, text: "Daemon is up and running" }], code: 13 }),
      Result.fail("no `Current server time` in the answer to `show status`")
    )
    assert.deepStrictEqual(
      parseServerTime({ lines: [{ code: 1011, text: "Current server time is 1764394337" }], code: 13 }),
      Result.fail('unreadable server time "1764394337" (use a named iso `timeformat base`)')
    )
  })

  it("inGracefulRestartRecovery - a BIRD started with -R still recovering; not once it is done, nor a fresh start", () => {
    const [, recovering] = fixtureReplies("status-protocols-all-recovering")
    const [, done] = fixtureReplies("status-protocols-established")
    const [, reflector] = fixtureReplies("status-protocols-all-reflector")
    assert.isTrue(recovering !== undefined && inGracefulRestartRecovery(recovering))
    assert.isFalse(done === undefined || inGracefulRestartRecovery(done))
    assert.isFalse(reflector === undefined || inGracefulRestartRecovery(reflector))
  })
})
