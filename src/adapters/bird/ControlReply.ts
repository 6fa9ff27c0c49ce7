// Framing of BIRD's control-socket protocol: cutting the byte stream into coded replies (pure).

/** One line of a reply: its code (a " text" continuation line inherits the previous one's) and text. */
export interface ReplyLine {
  readonly code: number
  readonly text: string
}

/** A complete reply: every line, and the code of the final "NNNN text" line that ended it. */
export interface Reply {
  readonly lines: ReadonlyArray<ReplyLine>
  readonly code: number
}

/** What the start of a buffer holds: a whole reply (and what follows it), not yet one, or garbage. */
export type ReplyRead =
  | { readonly _tag: "Complete"; readonly reply: Reply; readonly rest: string }
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Malformed"; readonly line: string }

const codedLine = /^(\d{4})([ -])(.*)$/

/**
 * Take the first reply off `buffer` (text received so far).
 *
 * BIRD writes "NNNN-text" for a line that more lines follow, " text" for a further line of the same
 * code, and "NNNN text" for the last line: the reply ends there, whatever its code. 0000 ends a
 * successful command, 0001 is the greeting, 8xxx are run-time errors, 9xxx parse errors.
 */
export const takeReply = (buffer: string): ReplyRead => {
  const lines: Array<ReplyLine> = []
  let start = 0
  for (let end = buffer.indexOf("\n"); end !== -1; end = buffer.indexOf("\n", start)) {
    const line = buffer.slice(start, end)
    start = end + 1
    const coded = codedLine.exec(line)
    if (coded !== null) {
      const code = Number(coded[1])
      lines.push({ code, text: coded[3] ?? "" })
      if (coded[2] === " ") return { _tag: "Complete", reply: { lines, code }, rest: buffer.slice(start) }
      continue
    }
    const previous = lines.at(-1)
    if (!line.startsWith(" ") || previous === undefined) return { _tag: "Malformed", line }
    lines.push({ code: previous.code, text: line.slice(1) })
  }
  return { _tag: "Incomplete" }
}

/** Whether a reply's final code reports a failure (8xxx run-time, 9xxx parse error). */
export const isErrorCode = (code: number): boolean => code >= 8000
