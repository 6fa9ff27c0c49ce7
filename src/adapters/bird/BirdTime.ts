// Times as BIRD prints them (`timeformat` iso short/long, with s, ms or µs), read as intervals (pure).

/**
 * One printed time: the interval of instants it stands for, in milliseconds on BIRD's local clock
 * read as if it were UTC (only differences and equality matter; the zone never has to be known).
 *
 * - `Timed`: a time of day, with or without a date; `at` is the printed value (BIRD truncates), so
 *   the instant lies in `[at, at + resolutionMs)`.
 * - `Dated`: a date alone. BIRD's named short formats (`iso short`, the default) print only the
 *   date for a state entered more than 20 hours ago.
 */
export type BirdTime =
  | { readonly _tag: "Timed"; readonly at: number; readonly resolutionMs: number; readonly hasDate: boolean }
  | { readonly _tag: "Dated"; readonly day: number }

const dayMs = 86_400_000

const timed = /^(?:(\d{4})-(\d\d)-(\d\d) )?(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/
const dated = /^(\d{4})-(\d\d)-(\d\d)$/

/**
 * Read a time printed by one of BIRD's named formats: "05:32:17", "05:32:17.190",
 * "05:32:17.190154", "2026-11-29", "2026-11-29 05:32:17[.190[154]]". Undefined for anything else
 * (a custom `timeformat` string).
 */
export const parseBirdTime = (text: string): BirdTime | undefined => {
  const date = dated.exec(text)
  if (date !== null) {
    const [, year = "", month = "", day = ""] = date
    return { _tag: "Dated", day: Date.UTC(Number(year), Number(month) - 1, Number(day)) }
  }
  const time = timed.exec(text)
  if (time === null) return undefined
  const [, year, month, day, hours = "", minutes = "", seconds = "", fraction = ""] = time
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds) > 60) return undefined
  const midnight = year === undefined ? 0 : Date.UTC(Number(year), Number(month) - 1, Number(day))
  const ofDay = (Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000
  return {
    _tag: "Timed",
    at: midnight + ofDay + (fraction === "" ? 0 : Number(fraction) / 10 ** (fraction.length - 3)),
    resolutionMs: 10 ** (3 - fraction.length),
    hasDate: year !== undefined
  }
}

/** Slack for a time of day printed a little after "now" (the two come from different commands). */
const aheadSlackMs = 60_000

/**
 * Give a time of day without a date the date that puts it at or just before `now` (BIRD prints
 * dateless times only for the last 20 hours). `now` without a date counts as day 0 for both.
 */
export const placeBefore = (time: BirdTime, now: BirdTime): BirdTime => {
  if (time._tag !== "Timed" || time.hasDate || now._tag !== "Timed") return time
  const today = now.at - (now.at % dayMs)
  const at = today + time.at
  return { ...time, at: at > now.at + aheadSlackMs ? at - dayMs : at, hasDate: true }
}
