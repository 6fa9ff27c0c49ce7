// Route protocol names as iproute2 prints them: its built-in names, then the rt_protos tables and rt_protos.d/*.conf.
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Effect from "effect/Effect"

/** Protocol names by number (0..255). */
export type ProtocolNames = ReadonlyMap<number, string>

/**
 * The names iproute2 compiles in (lib/rt_names.c, rtnl_rtprot_tab): what `ip route` prints when no
 * table file exists, e.g. in a `FROM scratch` image. The table files add to and override them.
 */
export const builtInProtocolNames: ProtocolNames = new Map([
  [0, "unspec"],
  [1, "redirect"],
  [2, "kernel"],
  [3, "boot"],
  [4, "static"],
  [8, "gated"],
  [9, "ra"],
  [10, "mrt"],
  [11, "zebra"],
  [12, "bird"],
  [13, "dnrouted"],
  [14, "xorp"],
  [15, "ntk"],
  [16, "dhcp"],
  [18, "keepalived"],
  [42, "babel"],
  [186, "bgp"],
  [187, "isis"],
  [188, "ospf"],
  [189, "rip"],
  [192, "eigrp"]
])

/** Where the tables live: `etc` is the administrator's (Debian 12's iproute2 6.1 keeps everything there), `usr` the distribution's default (iproute2 >= 6.5). */
export interface RtProtosDirs {
  readonly etc: string
  readonly usr: string
}

export const iproute2Dirs: RtProtosDirs = { etc: "/etc/iproute2", usr: "/usr/share/iproute2" }

/**
 * Parse one table: lines `number name` (the number decimal or 0x hex, 0..255), `#` comments and
 * blank lines ignored, a malformed line skipped as iproute2 does; a later line for a number wins.
 */
export const parseRtProtos = (text: string): ProtocolNames => {
  const names = new Map<number, string>()
  for (const line of text.split("\n")) {
    const trimmed = line.trim()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    const match = /^(0x[0-9a-fA-F]+|\d+)\s+([^\s#]+)/.exec(trimmed)
    if (match === null) continue
    const number = Number(match[1])
    if (number <= 255) names.set(number, match[2]!)
  }
  return names
}

const readText = (file: string): Effect.Effect<string | undefined> =>
  Effect.promise(() => Fs.readFile(file, "utf8").catch(() => undefined))

const confFiles = (dir: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.promise(() =>
    Fs.readdir(dir)
      .then((names) =>
        names
          .filter((name) => name.endsWith(".conf"))
          .sort()
          .map((name) => Path.join(dir, name))
      )
      .catch(() => [])
  )

/**
 * The names iproute2 would print, in its order: built-in names; then `etc/rt_protos`, or
 * `usr/rt_protos` when that does not exist; then every `*.conf` of `usr/rt_protos.d` and of
 * `etc/rt_protos.d` (a file in etc replaces the one of the same name in usr). Missing files count as empty.
 */
export const readProtocolNames = (dirs: RtProtosDirs = iproute2Dirs): Effect.Effect<ProtocolNames> =>
  Effect.gen(function* () {
    const names = new Map(builtInProtocolNames)
    const merge = (text: string | undefined) => {
      if (text !== undefined) for (const [number, name] of parseRtProtos(text)) names.set(number, name)
    }
    merge(
      (yield* readText(Path.join(dirs.etc, "rt_protos"))) ??
        (yield* readText(Path.join(dirs.usr, "rt_protos")))
    )
    const etcConf = yield* confFiles(Path.join(dirs.etc, "rt_protos.d"))
    const etcNames = new Set(etcConf.map((file) => Path.basename(file)))
    const usrConf = (yield* confFiles(Path.join(dirs.usr, "rt_protos.d"))).filter(
      (file) => !etcNames.has(Path.basename(file))
    )
    for (const file of [...usrConf, ...etcConf]) merge(yield* readText(file))
    return names
  })
