// From BIRD's BGP sessions to a FabricReport: who is up, who is still settling, and the epoch (pure but for hashing).
import { createHash } from "node:crypto"
import * as Result from "effect/Result"
import type { FabricReport } from "../../domain/FabricHealth.ts"
import { type BirdTime, parseBirdTime, placeBefore } from "./BirdTime.ts"
import { type CountedSessions, isEstablished } from "./ProtocolsReply.ts"

/** One counted session as the epoch sees it: its name, its state, and since when it is in it. */
export interface SessionMark {
  readonly name: string
  /** "Established" for a session carrying routes, else the protocol state ("start", "down", ...). */
  readonly state: string
  readonly since: BirdTime
}

/** The sessions of one report and the epoch they were given. */
export interface EpochSnapshot {
  readonly sessions: ReadonlyArray<SessionMark>
  readonly epoch: string
}

/**
 * How far apart two readings of one unchanged `since` may lie. BIRD prints `since` from its
 * monotonic clock shifted by the wall clock read anew for each command, so one instant comes out
 * a few microseconds apart from one command to the next (measured on 2.0.12: up to ~0.2 ms; more
 * under load or while NTP slews the clock). An epoch compared character by character would change
 * at random whenever that shift crosses a digit of the printed resolution.
 */
export const sinceToleranceMs = 100

/**
 * How long a session must have been in its state, past the end of its `since` interval, before it
 * counts: any change after a report then prints a `since` more than the tolerance away from it,
 * even against a reading that was itself up to the tolerance off (hence three times it), whatever
 * the resolution (counted twice: the old and the new reading are both truncated).
 */
export const settleMs = (resolutionMs: number): number => 3 * sinceToleranceMs + 2 * resolutionMs

/** What counts as healthy: every counted session established (the default), or at least `n`. */
export type Requirement = { readonly _tag: "All" } | { readonly _tag: "AtLeast"; readonly n: number }

/** One report and the snapshot to compare the next one with. */
export interface Assessment {
  readonly report: FabricReport
  readonly snapshot: EpochSnapshot
}

const sameMoment = (a: BirdTime, b: BirdTime): boolean => {
  if (a._tag === "Dated") return b._tag === "Dated" && a.day === b.day
  if (b._tag === "Dated") return false
  return a.at <= b.at + b.resolutionMs + sinceToleranceMs && b.at <= a.at + a.resolutionMs + sinceToleranceMs
}

const sameSessions = (a: ReadonlyArray<SessionMark>, b: ReadonlyArray<SessionMark>): boolean =>
  a.length === b.length &&
  a.every((mark, i) => {
    const other = b[i]
    return (
      other !== undefined &&
      mark.name === other.name &&
      mark.state === other.state &&
      sameMoment(mark.since, other.since)
    )
  })

const fingerprint = (sessions: ReadonlyArray<SessionMark>): string => {
  const canonical = sessions.map((mark) => {
    const since =
      mark.since._tag === "Dated" ? `day ${mark.since.day}` : `${mark.since.at}/${mark.since.resolutionMs}`
    return `${mark.name} ${mark.state} ${since}`
  })
  return createHash("sha256").update(canonical.join("\n")).digest("hex").slice(0, 16)
}

/**
 * Whether a session in its state since `since` is too recent at `now`: a flap right after this
 * report could print the same `since` again (within the resolution and the tolerance), so the
 * epoch would not show it. A date alone means "more than 20 hours ago" (BIRD's short formats).
 */
export const isSettling = (since: BirdTime, now: BirdTime & { readonly _tag: "Timed" }): boolean =>
  since._tag === "Timed" && now.at - (since.at + since.resolutionMs) < settleMs(since.resolutionMs)

const printed = (time: BirdTime): string =>
  time._tag === "Dated"
    ? new Date(time.day).toISOString().slice(0, 10)
    : new Date(time.at).toISOString().slice(0, 23).replace("T", " ")

/**
 * Assess the counted sessions at BIRD's time `now` (asked before `show protocols`). Healthy iff
 * the requirement holds, no name is missing (under "All") and no established session is settling.
 * The epoch is `previous`'s when every session has the same name, state and (within the
 * tolerance) `since`; otherwise a fingerprint of the sessions, which becomes the new reference.
 */
export const assessSessions = (
  sessions: CountedSessions,
  now: BirdTime,
  requirement: Requirement,
  previous: EpochSnapshot | undefined
): Result.Result<Assessment, string> => {
  if (now._tag !== "Timed")
    return Result.fail("BIRD's server time has no time of day (use a named iso `timeformat base`)")
  const marks: Array<SessionMark> = []
  for (const row of sessions.counted) {
    const since = parseBirdTime(row.since)
    if (since === undefined) {
      return Result.fail(
        `protocol ${row.name}: unreadable since "${row.since}" (use a named iso \`timeformat protocol\`)`
      )
    }
    marks.push({
      name: row.name,
      state: isEstablished(row) ? "Established" : row.state,
      since: placeBefore(since, now)
    })
  }
  marks.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const established = marks.filter((mark) => mark.state === "Established")
  const settling = established.filter((mark) => isSettling(mark.since, now))
  const wanted = sessions.counted.length + sessions.missing.length
  const required = requirement._tag === "All" ? Math.max(1, wanted) : requirement.n
  const need = requirement._tag === "All" ? "need all" : `need ${requirement.n}`
  const notes = [
    ...(sessions.missing.length === 0 ? [] : [`no BGP protocol named ${sessions.missing.join(", ")}`]),
    ...settling.map(
      (mark) => `${mark.name} settling (Established since ${printed(mark.since)}, BIRD time ${printed(now)})`
    )
  ]
  const snapshot =
    previous !== undefined && sameSessions(previous.sessions, marks)
      ? previous
      : { sessions: marks, epoch: fingerprint(marks) }
  return Result.succeed({
    report: {
      healthy: established.length >= required && settling.length === 0,
      established: established.length,
      required,
      detail: `${established.length} of ${marks.length} BGP sessions established (${need})${notes.map((note) => `; ${note}`).join("")}`,
      epoch: snapshot.epoch
    },
    snapshot
  })
}
