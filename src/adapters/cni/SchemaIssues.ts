// Schema decode failures as one line naming the field: "ipam.ranges[0][0].subnet: Expected string, got 5".
import type * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"

const toStandard = SchemaIssue.makeFormatterStandardSchemaV1()

type PathKey = PropertyKey | { readonly key: PropertyKey }

const keyOf = (segment: PathKey): PropertyKey =>
  typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment

/** "ipam.ranges[0][0].subnet" from ["ipam", "ranges", 0, 0, "subnet"], with `prefix` in front. */
export const formatPath = (path: ReadonlyArray<PathKey>, prefix = ""): string => {
  let out = prefix
  for (const segment of path) {
    const key = keyOf(segment)
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out === "" ? "<root>" : out
}

const valueAt = (input: unknown, path: ReadonlyArray<PathKey>): unknown => {
  let value = input
  for (const segment of path) {
    if (typeof value !== "object" || value === null) return undefined
    value = (value as Record<PropertyKey, unknown>)[keyOf(segment)]
  }
  return value
}

const stringify = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    // too deep or cyclic: the type is still worth showing
    return Array.isArray(value) ? "[...]" : typeof value === "object" ? "{...}" : typeof value
  }
}

const preview = (value: unknown): string => {
  const text = stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** Every issue as "path: message, got <value>", joined with "; ". */
export const describeSchemaError = (error: Schema.SchemaError, input: unknown): string =>
  toStandard(error.issue)
    .issues.map((issue) => {
      const path = issue.path ?? []
      const actual = valueAt(input, path)
      const got = actual === undefined ? "" : `, got ${preview(actual)}`
      return `${formatPath(path)}: ${issue.message}${got}`
    })
    .join("; ")
