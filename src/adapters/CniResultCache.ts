// The container runtime's libcni result cache (/var/lib/cni/results), read-only: which container got which address.
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { PodName } from "../domain/Attachments.ts"
import { checkContainerId, checkIfname } from "../domain/ContainerId.ts"
import { type Ip, parseAddressWithPrefix, parseIp } from "../domain/Ip.ts"

/** Where libcni (containerd, CRI-O, podman's CNI backend, cnitool) caches ADD results. */
export const defaultCacheDir = "/var/lib/cni/results"

/**
 * One cache file as libcni writes it (`cniCacheV1`, libcni >= 0.8), file name
 * `<network>-<containerId>-<ifname>`: the attachment's identity, the CNI_ARGS it was added with,
 * and the final result of the chain (its `ips`). Other keys (config, netns, capabilityArgs) are ignored.
 */
const CacheEntry = Schema.Struct({
  kind: Schema.Literal("cniCacheV1"),
  containerId: Schema.String,
  ifName: Schema.String,
  networkName: Schema.String,
  cniArgs: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Tuple([Schema.String, Schema.String])))),
  result: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        ips: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({ address: Schema.String }))))
      })
    )
  )
})

const decodeEntry = Schema.decodeUnknownOption(Schema.fromJsonString(CacheEntry))

/** One cached attachment. */
export interface CachedAttachment {
  readonly file: string
  readonly network: string
  readonly containerId: string
  readonly ifname: string
  readonly addresses: ReadonlyArray<Ip>
  readonly pod?: PodName
}

/** A file of the directory that is not a usable cache entry, and why. */
export interface UnreadableEntry {
  readonly file: string
  readonly reason: string
}

/** What the directory holds. */
export interface CacheContents {
  readonly entries: ReadonlyArray<CachedAttachment>
  readonly unreadable: ReadonlyArray<UnreadableEntry>
  /** The directory does not exist (a runtime that keeps no cache, or another path). */
  readonly missing: boolean
}

/** The pod from CNI_ARGS pairs, as the plugin reads it (K8S_POD_NAME, with K8S_POD_NAMESPACE when sent). */
const podOf = (args: ReadonlyArray<readonly [string, string]>): PodName | undefined => {
  const value = (key: string) => args.findLast(([k]) => k === key)?.[1]
  const name = value("K8S_POD_NAME")
  if (name === undefined || name === "") return undefined
  const namespace = value("K8S_POD_NAMESPACE")
  return namespace === undefined || namespace === "" ? { name } : { namespace, name }
}

/** One file's text as a cached attachment, or why not. */
export const parseCacheEntry = (file: string, text: string): CachedAttachment | UnreadableEntry => {
  const decoded = decodeEntry(text)
  if (Option.isNone(decoded)) return { file, reason: "not a libcni cniCacheV1 entry" }
  const entry = decoded.value
  const problem = checkContainerId(entry.containerId) ?? checkIfname(entry.ifName)
  if (problem !== undefined) return { file, reason: `${problem.field}: ${problem.message}` }
  const addresses: Array<Ip> = []
  for (const { address } of entry.result?.ips ?? []) {
    const parsed = Option.orElse(
      Option.map(parseAddressWithPrefix(address), (p) => p.address),
      () => parseIp(address)
    )
    if (Option.isNone(parsed))
      return { file, reason: `result.ips: ${JSON.stringify(address)} is not an address` }
    addresses.push(parsed.value)
  }
  const pod = podOf(entry.cniArgs ?? [])
  return {
    file,
    network: entry.networkName,
    containerId: entry.containerId,
    ifname: entry.ifName,
    addresses,
    ...(pod === undefined ? {} : { pod })
  }
}

/** Read every entry of `dir` (never writes). A missing directory is empty, and says so. */
export const readCache = (dir: string): Effect.Effect<CacheContents, { readonly message: string }> =>
  Effect.tryPromise({
    try: async (): Promise<CacheContents> => {
      let names: Array<string>
      try {
        names = (await Fs.readdir(dir)).sort()
      } catch (cause) {
        if ((cause as { code?: string }).code === "ENOENT")
          return { entries: [], unreadable: [], missing: true }
        throw cause
      }
      const entries: Array<CachedAttachment> = []
      const unreadable: Array<UnreadableEntry> = []
      for (const name of names) {
        const file = Path.join(dir, name)
        let text: string
        try {
          const stat = await Fs.stat(file)
          if (!stat.isFile()) continue
          if (stat.size > 1_048_576) {
            unreadable.push({ file, reason: "larger than 1 MiB" })
            continue
          }
          text = await Fs.readFile(file, "utf8")
        } catch (cause) {
          unreadable.push({ file, reason: cause instanceof Error ? cause.message : String(cause) })
          continue
        }
        const parsed = parseCacheEntry(file, text)
        if ("reason" in parsed) unreadable.push(parsed)
        else entries.push(parsed)
      }
      return { entries, unreadable, missing: false }
    },
    catch: (cause) => ({ message: `${dir}: ${cause instanceof Error ? cause.message : String(cause)}` })
  })
