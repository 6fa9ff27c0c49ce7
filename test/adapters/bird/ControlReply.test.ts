// Tests of the control-socket framing on replies captured from a real BIRD.
import { assert, describe, it } from "@effect/vitest"
import { isErrorCode, takeReply } from "../../../src/adapters/bird/ControlReply.ts"
import { fixtureReplies, fixtureText } from "./Fixtures.ts"

describe("ControlReply", () => {
  it("takeReply - the greeting, then the table with continuation lines inheriting the code", () => {
    const [greeting, table, ...more] = fixtureReplies("protocols-established")
    assert.deepStrictEqual(greeting, { lines: [{ code: 1, text: "BIRD 2.0.12 ready." }], code: 1 })
    assert.strictEqual(more.length, 0)
    assert.strictEqual(table?.code, 0)
    assert.deepStrictEqual(
      table?.lines.map((line) => line.code),
      [2002, 1002, 1002, 1002, 1002, 0]
    )
    assert.strictEqual(table?.lines[3]?.text, "kernel6    Kernel     master6    up     01:21:23.807  ")
    assert.strictEqual(table?.lines[5]?.text, "")
  })

  it("takeReply - Incomplete for every cut before the final line's newline", () => {
    const text = fixtureText("protocols-established")
    const greetingEnd = text.indexOf("\n") + 1
    const reply = text.slice(greetingEnd)
    for (let cut = 0; cut < reply.length; cut++) {
      assert.strictEqual(takeReply(reply.slice(0, cut))._tag, "Incomplete", `cut at ${cut}`)
    }
    assert.strictEqual(takeReply(reply)._tag, "Complete")
    const read = takeReply(text.slice(0, greetingEnd + 10))
    assert.strictEqual(read._tag, "Complete")
    assert.strictEqual(
      read._tag === "Complete" ? read.rest : undefined,
      text.slice(greetingEnd, greetingEnd + 10)
    )
  })

  it("takeReply - each error line ends its own reply", () => {
    const replies = fixtureReplies("syntax-errors")
    assert.deepStrictEqual(
      replies.map((reply) => reply.code),
      [1, 9001, 9001]
    )
    assert.strictEqual(replies[1]?.lines[0]?.text, "syntax error, unexpected CF_SYM_UNDEFINED")
  })

  it("takeReply - a non-error final code ends a reply too (restrict)", () => {
    assert.deepStrictEqual(
      fixtureReplies("restricted").map((reply) => reply.code),
      [1, 16, 8007]
    )
  })

  it("takeReply - Malformed for text that is not BIRD's framing", () => {
    assert.deepStrictEqual(takeReply("HTTP/1.1 400 Bad Request\r\n"), {
      _tag: "Malformed",
      line: "HTTP/1.1 400 Bad Request\r"
    })
    assert.deepStrictEqual(takeReply(" orphan continuation\n"), {
      _tag: "Malformed",
      line: " orphan continuation"
    })
    assert.deepStrictEqual(takeReply("12345 five digits\n"), { _tag: "Malformed", line: "12345 five digits" })
  })

  it("isErrorCode - 8xxx and 9xxx only", () => {
    assert.deepStrictEqual([0, 1, 16, 1002, 7999, 8000, 8007, 9001].map(isErrorCode), [
      false,
      false,
      false,
      false,
      false,
      true,
      true,
      true
    ])
  })
})
