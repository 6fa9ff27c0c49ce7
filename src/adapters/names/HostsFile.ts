// Node names for `list`: a hosts(5)-format file (address, canonical name, aliases) read as address -> name.
import * as Fs from "node:fs/promises"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { keyOf, parseIp } from "../../domain/Ip.ts"

/** Where node names come from when `--node-names` is not given. */
export const defaultHostsFile = "/etc/hosts"

/** Names by address (`keyOf` of the address): the canonical name of each address. */
export type NodeNames = ReadonlyMap<string, string>

/** The node-names file could not be read. */
export class NodeNamesUnreadable extends Data.TaggedError("NodeNamesUnreadable")<{
  readonly file: string
  readonly message: string
}> {}

/**
 * Parse hosts(5) text: `address canonical_name [aliases...]`, `#` starts a comment. Like the C
 * library's reverse lookup in /etc/hosts, the first line naming an address wins and its canonical
 * (first) name is the one shown. Lines whose first field is no address (e.g. `fe80::1%eth0`) are skipped.
 */
export const parseHostsFile = (text: string): NodeNames => {
  const names = new Map<string, string>()
  for (const line of text.split("\n")) {
    const [address, name] = line.replace(/#.*/, "").trim().split(/\s+/)
    if (address === undefined || name === undefined) continue
    const ip = parseIp(address)
    if (Option.isNone(ip)) continue
    const key = keyOf(ip.value)
    if (!names.has(key)) names.set(key, name)
  }
  return names
}

/**
 * Read node names from `file`. `required`: the operator named the file, so a missing or unreadable
 * one fails; otherwise (the default /etc/hosts) it yields no names.
 */
export const readNodeNames = (
  file: string,
  required: boolean
): Effect.Effect<NodeNames, NodeNamesUnreadable> =>
  Effect.tryPromise({
    try: () => Fs.readFile(file, "utf8"),
    catch: (error) =>
      new NodeNamesUnreadable({ file, message: error instanceof Error ? error.message : String(error) })
  }).pipe(
    Effect.map(parseHostsFile),
    Effect.catch((error) => (required ? Effect.fail(error) : Effect.succeed(new Map<string, string>())))
  )
