// The reply to BIRD's `show protocols`: its table of protocols, and the BGP sessions carrying routes (pure).
import * as Result from "effect/Result"
import { isErrorCode, type Reply } from "./ControlReply.ts"

/** One row of `show protocols`. */
export interface ProtocolRow {
  /** "peer1", "kernel4", ... */
  readonly name: string
  /** "BGP", "Kernel", "Device", "Static", ... */
  readonly protocol: string
  readonly table: string
  /** "up", "start", "down", "stop", "flush". */
  readonly state: string
  /** As the daemon's `timeformat protocol` prints it (may contain a space). */
  readonly since: string
  /** Protocol-specific status; for BGP the session state first: "Established", "Active  Socket: ...". */
  readonly info: string
  /**
   * Set on a BGP protocol with a `neighbor range` (dynamic BGP, e.g. a route reflector's protocol
   * for its clients): it only listens ("Passive"), never carries routes itself, and spawns one
   * session per peer that connects. Only `show protocols all` tells (its "Neighbor range:" line).
   */
  readonly neighborRange?: true
}

/** How the BGP sessions that count stand. */
export interface SessionCount {
  /** BGP sessions that count and are established. */
  readonly established: number
  /** BGP sessions that count. */
  readonly total: number
  /** Requested protocol names the daemon has no BGP protocol for. */
  readonly missing: ReadonlyArray<string>
}

const headerCode = 2002
const rowCode = 1002
const detailCode = 1006
const neighborRangeLine = /^\s*Neighbor range:/

// Name, protocol, table and state are single words; since and info are separated by at least two
// spaces (since is printed "%-12s  "), while since itself may hold single spaces ("iso long").
const rowPattern = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$/

const parseRow = (text: string): ProtocolRow | undefined => {
  const match = rowPattern.exec(text)
  if (match === null) return undefined
  const [, name = "", protocol = "", table = "", state = "", rest = ""] = match
  const gap = /\s{2,}/.exec(rest)
  return {
    name,
    protocol,
    table,
    state,
    since: (gap === null ? rest : rest.slice(0, gap.index)).trim(),
    info: gap === null ? "" : rest.slice(gap.index).trim()
  }
}

/**
 * The rows of a `show protocols` reply, or why it is not one (an error code, no header, a bad row).
 * Of the details of `show protocols all`, only a BGP protocol's "Neighbor range:" is read.
 */
export const parseProtocols = (reply: Reply): Result.Result<ReadonlyArray<ProtocolRow>, string> => {
  const last = reply.lines.at(-1)
  if (isErrorCode(reply.code)) return Result.fail(`BIRD answered ${reply.code} ${last?.text ?? ""}`.trim())
  if (reply.code !== 0) return Result.fail(`BIRD ended its answer with code ${reply.code}, not 0000`)
  const header = reply.lines.find((line) => line.code === headerCode)
  if (header === undefined || !/^Name\s+Proto\s+Table\s+State\s+Since\s+Info\s*$/.test(header.text)) {
    return Result.fail("no `show protocols` table header (Name Proto Table State Since Info)")
  }
  const rows: Array<ProtocolRow> = []
  for (const line of reply.lines) {
    const last = rows.at(-1)
    if (line.code === detailCode && last?.protocol === "BGP" && neighborRangeLine.test(line.text)) {
      rows[rows.length - 1] = { ...last, neighborRange: true }
    }
    if (line.code !== rowCode) continue
    const row = parseRow(line.text)
    if (row === undefined) return Result.fail(`unparsable protocol row "${line.text}"`)
    rows.push(row)
  }
  return Result.succeed(rows)
}

/** Whether a row is a BGP session that carries routes now: protocol up, session Established. */
export const isEstablished = (row: ProtocolRow): boolean =>
  row.protocol === "BGP" && row.state === "up" && row.info.split(/\s/, 1)[0] === "Established"

/**
 * The BGP sessions that count: every BGP protocol but a `neighbor range` one (the sessions it
 * spawns count), or those named; names without a BGP protocol.
 */
export interface CountedSessions {
  readonly counted: ReadonlyArray<ProtocolRow>
  /** Requested protocol names the daemon has no BGP protocol for. */
  readonly missing: ReadonlyArray<string>
}

/**
 * The BGP sessions among `rows` that count: only those named in `names`, when given (names of
 * other kinds of protocol never count, and are reported missing).
 */
export const selectSessions = (
  rows: ReadonlyArray<ProtocolRow>,
  names?: ReadonlyArray<string>
): CountedSessions => {
  const bgp = rows.filter((row) => row.protocol === "BGP" && row.neighborRange !== true)
  return {
    counted: names === undefined ? bgp : bgp.filter((row) => names.includes(row.name)),
    missing: names === undefined ? [] : names.filter((name) => !bgp.some((row) => row.name === name))
  }
}

/** How many of the sessions that count (see `selectSessions`) are established. */
export const countSessions = (
  rows: ReadonlyArray<ProtocolRow>,
  names?: ReadonlyArray<string>
): SessionCount => {
  const { counted, missing } = selectSessions(rows, names)
  return { established: counted.filter(isEstablished).length, total: counted.length, missing }
}
