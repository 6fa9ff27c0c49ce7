// How deeply a JSON text nests, found by one scan of the text (no recursion, so no stack to overflow).

/** Deepest nesting of a network config accepted on stdin; real configs need about a dozen levels. */
export const maxJsonNesting = 512

/**
 * Whether the JSON text nests arrays and objects deeper than `limit`. Brackets inside strings
 * do not count. The text need not be valid JSON (the parser judges that); the scan stops at the
 * first level beyond `limit`.
 */
export const nestsDeeperThan = (text: string, limit: number = maxJsonNesting): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      depth++
      if (depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}
