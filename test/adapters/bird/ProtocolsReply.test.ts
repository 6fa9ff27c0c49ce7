// Tests of the `show protocols` parser on replies captured from a real BIRD 2.0.12.
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import type { Reply } from "../../../src/adapters/bird/ControlReply.ts"
import {
  countSessions,
  type ProtocolRow,
  parseProtocols,
  selectSessions
} from "../../../src/adapters/bird/ProtocolsReply.ts"
import { commandReply, fixtureReplies } from "./Fixtures.ts"

const rowsOf = (reply: Reply): ReadonlyArray<ProtocolRow> => {
  const rows = parseProtocols(reply)
  if (Result.isFailure(rows)) throw new Error(`expected rows, got: ${rows.failure}`)
  return rows.success
}

const failureOf = (reply: Reply): string | undefined => {
  const rows = parseProtocols(reply)
  return Result.isFailure(rows) ? rows.failure : undefined
}

describe("ProtocolsReply", () => {
  it("parseProtocols - every row of a two-node lab, the peer Established", () => {
    assert.deepStrictEqual(rowsOf(commandReply("protocols-established")), [
      { name: "device1", protocol: "Device", table: "---", state: "up", since: "01:21:23.807", info: "" },
      { name: "kernel4", protocol: "Kernel", table: "master4", state: "up", since: "01:21:23.807", info: "" },
      { name: "kernel6", protocol: "Kernel", table: "master6", state: "up", since: "01:21:23.807", info: "" },
      {
        name: "peer1",
        protocol: "BGP",
        table: "---",
        state: "up",
        since: "01:21:24.749",
        info: "Established"
      }
    ])
  })

  it("parseProtocols - long names and a since with a space (timeformat protocol iso long)", () => {
    const rows = rowsOf(commandReply("protocols-long-names-iso-long-time"))
    assert.deepStrictEqual(
      rows.map((row) => [row.name, row.protocol, row.state, row.since, row.info]),
      [
        ["device1", "Device", "up", "2026-11-28 01:22:20", ""],
        ["st4", "Static", "up", "2026-11-28 01:22:20", ""],
        ["a_rather_long_protocol_name", "BGP", "start", "2026-11-28 01:22:20", "Connect"],
        ["off1", "BGP", "down", "2026-11-28 01:22:20", ""]
      ]
    )
  })

  it("parseProtocols - the peer shut down, crashed, refusing: session info after the state", () => {
    const infoOf = (fixture: string) =>
      rowsOf(commandReply(fixture)).find((row) => row.name === "peer1")?.info
    assert.strictEqual(infoOf("protocols-peer-shut-down"), "Active        Received: Administrative shutdown")
    assert.strictEqual(infoOf("protocols-peer-crashed"), "Active        Socket: Connection closed")
    assert.strictEqual(infoOf("protocols-peer-refused"), "Active        Socket: Connection refused")
  })

  it("parseProtocols - skips the detail lines of `show protocols all`", () => {
    const rows = rowsOf(commandReply("protocols-all-peer1"))
    assert.deepStrictEqual(
      rows.map((row) => [row.name, row.info]),
      [["peer1", "Established"]]
    )
  })

  it("parseProtocols - refuses error replies, other replies, missing header, bad rows", () => {
    const [, syntax] = fixtureReplies("syntax-errors")
    const [, restricted, denied] = fixtureReplies("restricted")
    assert.strictEqual(
      syntax === undefined ? undefined : failureOf(syntax),
      "BIRD answered 9001 syntax error, unexpected CF_SYM_UNDEFINED"
    )
    assert.strictEqual(
      denied === undefined ? undefined : failureOf(denied),
      "BIRD answered 8007 Access denied"
    )
    assert.strictEqual(
      restricted === undefined ? undefined : failureOf(restricted),
      "BIRD ended its answer with code 16, not 0000"
    )
    assert.match(
      failureOf({ lines: [{ code: 0, text: "" }], code: 0 }) ?? "",
      /no `show protocols` table header/
    )
    const header = { code: 2002, text: "Name       Proto      Table      State  Since         Info" }
    const bad = { lines: [header, { code: 1002, text: "lonely" }, { code: 0, text: "" }], code: 0 }
    assert.strictEqual(failureOf(bad), 'unparsable protocol row "lonely"')
  })

  it("countSessions - only BGP sessions up and Established count", () => {
    const count = (fixture: string) => countSessions(rowsOf(commandReply(fixture)))
    assert.deepStrictEqual(count("protocols-established"), { established: 1, total: 1, missing: [] })
    assert.deepStrictEqual(count("protocols-peer-shut-down"), { established: 0, total: 1, missing: [] })
    assert.deepStrictEqual(count("protocols-peer-crashed"), { established: 0, total: 1, missing: [] })
    assert.deepStrictEqual(count("protocols-long-names-iso-long-time"), {
      established: 0,
      total: 2,
      missing: []
    })
  })

  it("countSessions - with names: only those, non-BGP names never count, unknown names reported", () => {
    const rows = rowsOf(commandReply("protocols-established"))
    assert.deepStrictEqual(countSessions(rows, ["peer1"]), { established: 1, total: 1, missing: [] })
    assert.deepStrictEqual(countSessions(rows, ["kernel4", "peer9"]), {
      established: 0,
      total: 0,
      missing: ["kernel4", "peer9"]
    })
    assert.deepStrictEqual(countSessions(rows, []), { established: 0, total: 0, missing: [] })
  })

  it("countSessions - a state other than up is not established whatever the info says", () => {
    const row = { name: "p", protocol: "BGP", table: "---", since: "x" }
    const rows = [
      { ...row, state: "stop", info: "Established" },
      { ...row, state: "up", info: "Established-ish" },
      { ...row, state: "up", info: "Established  extra" }
    ]
    assert.deepStrictEqual(countSessions(rows), { established: 1, total: 3, missing: [] })
  })

  it("selectSessions - the counted rows themselves (for the epoch), and the names without a BGP protocol", () => {
    const rows = rowsOf(commandReply("protocols-long-names-iso-long-time"))
    const all = selectSessions(rows)
    assert.deepStrictEqual(
      all.counted.map((row) => [row.name, row.state, row.since]),
      [
        ["a_rather_long_protocol_name", "start", "2026-11-28 01:22:20"],
        ["off1", "down", "2026-11-28 01:22:20"]
      ]
    )
    assert.deepStrictEqual(all.missing, [])
    const named = selectSessions(rows, ["off1", "st4", "nope"])
    assert.deepStrictEqual(
      named.counted.map((row) => row.name),
      ["off1"]
    )
    assert.deepStrictEqual(named.missing, ["st4", "nope"])
  })

  it("parseProtocols - `show protocols all` of a route reflector: its `neighbor range` protocol is marked, the sessions it spawned are not", () => {
    const reply = fixtureReplies("status-protocols-all-reflector")[2]
    if (reply === undefined) return assert.fail("no show protocols all reply in the fixture")
    const rows = rowsOf(reply)
    assert.deepStrictEqual(
      rows.map((row) => [row.name, row.protocol, row.state, row.neighborRange ?? false]),
      [
        ["device1", "Device", "up", false],
        ["kernel4", "Kernel", "up", false],
        ["kernel6", "Kernel", "up", false],
        ["clients", "BGP", "start", true],
        ["peer_198_18_0_2", "BGP", "up", false],
        ["client1", "BGP", "start", false],
        ["client2", "BGP", "up", false]
      ]
    )
    // the listening protocol never counts; the spawned sessions and the static one do
    assert.deepStrictEqual(countSessions(rows), { established: 2, total: 3, missing: [] })
    assert.deepStrictEqual(
      selectSessions(rows).counted.map((row) => row.name),
      ["peer_198_18_0_2", "client1", "client2"]
    )
    // negative control: without the details (plain `show protocols`) the listener would count
    const plain = { ...reply, lines: reply.lines.filter((line) => line.code !== 1006) }
    assert.deepStrictEqual(countSessions(rowsOf(plain)), { established: 2, total: 4, missing: [] })
  })
})
