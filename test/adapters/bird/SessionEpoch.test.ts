// Tests of the fabric report from BIRD's sessions: every session required, settling, and an epoch that moves only with the sessions.
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import type { BirdTime } from "../../../src/adapters/bird/BirdTime.ts"
import {
  type Assessment,
  assessSessions,
  type EpochSnapshot,
  type Requirement,
  settleMs
} from "../../../src/adapters/bird/SessionEpoch.ts"
import {
  type ProtocolRow,
  parseProtocols,
  selectSessions
} from "../../../src/adapters/bird/ProtocolsReply.ts"
import { parseServerTime } from "../../../src/adapters/bird/StatusReply.ts"
import { fixtureReplies } from "./Fixtures.ts"

const all: Requirement = { _tag: "All" }

/** `show status` and `show protocols` of a captured conversation. */
const conversation = (
  fixture: string
): { readonly now: BirdTime; readonly rows: ReadonlyArray<ProtocolRow> } => {
  const [, status, protocols] = fixtureReplies(fixture)
  if (status === undefined || protocols === undefined) throw new Error(`${fixture}: two replies expected`)
  return {
    now: Result.getOrThrow(parseServerTime(status)),
    rows: Result.getOrThrow(parseProtocols(protocols))
  }
}

const assess = (
  fixture: string,
  options: {
    readonly requirement?: Requirement
    readonly names?: ReadonlyArray<string>
    readonly previous?: EpochSnapshot
    readonly edit?: (rows: ReadonlyArray<ProtocolRow>) => ReadonlyArray<ProtocolRow>
    readonly now?: BirdTime
  } = {}
): Assessment => {
  const captured = conversation(fixture)
  const rows = options.edit === undefined ? captured.rows : options.edit(captured.rows)
  const result = assessSessions(
    selectSessions(rows, options.names),
    options.now ?? captured.now,
    options.requirement ?? all,
    options.previous
  )
  if (Result.isFailure(result)) throw new Error(result.failure)
  return result.success
}

const withSince = (name: string, since: string) => (rows: ReadonlyArray<ProtocolRow>) =>
  rows.map((row) => (row.name === name ? { ...row, since } : row))

describe("SessionEpoch", () => {
  it("assessSessions - both sessions Established and settled: healthy, every session required", () => {
    const { report } = assess("status-protocols-established")
    assert.deepStrictEqual(
      { ...report, epoch: "-" },
      {
        healthy: true,
        established: 2,
        required: 2,
        detail: "2 of 2 BGP sessions established (need all)",
        epoch: "-"
      }
    )
    assert.match(report.epoch, /^[0-9a-f]{16}$/)
  })

  it("assessSessions - by default one session down is unhealthy; minEstablished 1 is the explicit relaxation", () => {
    assert.deepStrictEqual(
      assess("status-protocols-peer-disabled").report.detail,
      "1 of 2 BGP sessions established (need all)"
    )
    assert.isFalse(assess("status-protocols-peer-disabled").report.healthy)
    const relaxed = assess("status-protocols-peer-disabled", {
      requirement: { _tag: "AtLeast", n: 1 }
    }).report
    assert.deepStrictEqual(
      [relaxed.healthy, relaxed.required, relaxed.detail],
      [true, 1, "1 of 2 BGP sessions established (need 1)"]
    )
  })

  it("assessSessions - named protocols: a missing name is unhealthy by default; no session at all is never healthy", () => {
    const named = assess("status-protocols-established", { names: ["peer1", "peer9"] }).report
    assert.deepStrictEqual(
      [named.healthy, named.established, named.required, named.detail],
      [false, 1, 2, "1 of 1 BGP sessions established (need all); no BGP protocol named peer9"]
    )
    assert.isTrue(assess("status-protocols-established", { names: ["peer1"] }).report.healthy)
    const none = assess("status-protocols-established", { names: ["kernel4"] }).report
    assert.deepStrictEqual([none.healthy, none.required], [false, 1])
    const empty = assess("status-protocols-established", { edit: () => [] }).report
    assert.deepStrictEqual(
      [empty.healthy, empty.required, empty.detail],
      [false, 1, "0 of 0 BGP sessions established (need all)"]
    )
  })

  it("assessSessions - a session Established 186 ms before BIRD's time is settling: unhealthy until settleMs has passed", () => {
    const { report } = assess("status-protocols-peer-settling")
    assert.deepStrictEqual(
      [report.healthy, report.established, report.detail],
      [
        false,
        2,
        "2 of 2 BGP sessions established (need all); peer2 settling (Established since 2026-11-29 05:35:15.419, BIRD time 2026-11-29 05:35:15.605)"
      ]
    )
    // peer2 since 15.419 (+1 ms resolution): settled once BIRD's time is settleMs(1) past 15.420
    const at = (ms: number): BirdTime => ({
      _tag: "Timed",
      at: Date.UTC(2026, 10, 29, 5, 35, 15, 420) + ms,
      resolutionMs: 1,
      hasDate: true
    })
    assert.isFalse(assess("status-protocols-peer-settling", { now: at(settleMs(1) - 1) }).report.healthy)
    assert.isTrue(assess("status-protocols-peer-settling", { now: at(settleMs(1)) }).report.healthy)
    // with second resolution the wait grows accordingly
    const seconds = withSince("peer2", "2026-11-29 05:35:15")
    assert.isFalse(assess("status-protocols-peer-settling", { edit: seconds, now: at(1_000) }).report.healthy)
    assert.isTrue(
      assess("status-protocols-peer-settling", { edit: seconds, now: at(settleMs(1000) + 1000) }).report
        .healthy
    )
  })

  it("assessSessions - why settling is needed: a flap inside one printed step leaves since unchanged, so the epoch cannot see it", () => {
    const now: BirdTime = {
      _tag: "Timed",
      at: Date.UTC(2026, 10, 29, 5, 35, 15, 420),
      resolutionMs: 1,
      hasDate: true
    }
    // peer2 up at 15.419.2; the first report (15.420) is settling; the session drops at 15.419.6 and
    // is back at 15.419.9: BIRD prints 15.419 again
    const first = assess("status-protocols-peer-settling", { now })
    const second = assess("status-protocols-peer-settling", { now, previous: first.snapshot })
    assert.strictEqual(second.report.epoch, first.report.epoch, "the epoch cannot tell")
    assert.isFalse(first.report.healthy, "so the first report must not count as healthy")
  })

  it("assessSessions - the epoch: a change of state or since moves it; the sessions coming back give yet another", () => {
    const up = assess("status-protocols-established")
    const disabled = assess("status-protocols-peer-disabled", { previous: up.snapshot })
    const back = assess("status-protocols-peer-settling", { previous: disabled.snapshot })
    const epochs = [up.report.epoch, disabled.report.epoch, back.report.epoch]
    assert.strictEqual(new Set(epochs).size, 3, epochs.join(" "))
    // asked again with nothing changed: the same epoch, from the same reference
    const again = assess("status-protocols-established", { previous: up.snapshot })
    assert.strictEqual(again.report.epoch, up.report.epoch)
    assert.strictEqual(again.snapshot, up.snapshot)
    // the same sessions always fingerprint the same, whatever came before (deterministic)
    assert.strictEqual(
      assess("status-protocols-established", { previous: back.snapshot }).report.epoch,
      up.report.epoch
    )
  })

  it("assessSessions - since read a little differently (the wall clock is re-read per command) keeps the epoch; beyond the tolerance it does not", () => {
    const up = assess("status-protocols-established")
    // peer1 since 05:35:12.171 in the reference
    const drifted = assess("status-protocols-established", {
      previous: up.snapshot,
      edit: withSince("peer1", "2026-11-29 05:35:12.172")
    })
    assert.strictEqual(drifted.report.epoch, up.report.epoch)
    const within = assess("status-protocols-established", {
      previous: up.snapshot,
      edit: withSince("peer1", "2026-11-29 05:35:12.272")
    })
    assert.strictEqual(within.report.epoch, up.report.epoch, "100 ms + the resolution apart")
    const beyond = assess("status-protocols-established", {
      previous: up.snapshot,
      edit: withSince("peer1", "2026-11-29 05:35:12.273")
    })
    assert.notStrictEqual(beyond.report.epoch, up.report.epoch)
    // a flap right after a settled report is further away than the tolerance by construction
    assert.isAbove(settleMs(1) - 2, 100)
  })

  it("assessSessions - the default format: bare times of day are dated against BIRD's time; a date alone is older than 20 h", () => {
    const short = assess("status-protocols-iso-short-ms")
    assert.deepStrictEqual(
      [short.report.healthy, short.report.detail],
      [true, "2 of 2 BGP sessions established (need all)"]
    )
    const old = assess("status-protocols-iso-short-ms", { edit: withSince("peer1", "2026-11-27") })
    assert.isTrue(old.report.healthy)
    assert.notStrictEqual(old.report.epoch, short.report.epoch)
    // the date alone and the time of day are different printings: a change between them moves the epoch
    const flapped = assess("status-protocols-iso-short-ms", { previous: old.snapshot })
    assert.notStrictEqual(flapped.report.epoch, old.report.epoch)
    const still = assess("status-protocols-iso-short-ms", {
      previous: old.snapshot,
      edit: withSince("peer1", "2026-11-27")
    })
    assert.strictEqual(still.report.epoch, old.report.epoch)
  })

  it("assessSessions - an unreadable since, or a server time without a time of day: why", () => {
    const { rows, now } = conversation("status-protocols-established")
    const custom = rows.map((row) => (row.name === "peer2" ? { ...row, since: "1764394512" } : row))
    assert.deepStrictEqual(
      assessSessions(selectSessions(custom), now, all, undefined),
      Result.fail('protocol peer2: unreadable since "1764394512" (use a named iso `timeformat protocol`)')
    )
    assert.deepStrictEqual(
      assessSessions(selectSessions(rows), { _tag: "Dated", day: 0 }, all, undefined),
      Result.fail("BIRD's server time has no time of day (use a named iso `timeformat base`)")
    )
  })
})
