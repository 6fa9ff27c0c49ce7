// Where operator commands get a network from: the plugin config (file or directory) that delegates IPAM to us.
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import { decodeNetworkConfig, type NetworkSettings } from "../../adapters/cni/NetworkSettings.ts"
import { CommandFailed } from "../OperatorCommand.ts"

/** One plugin config that uses us, and the file it came from. */
export interface FoundConfig {
  readonly file: string
  readonly plugin: Record<string, unknown>
}

const failed = (message: string) => new CommandFailed({ message, exitCode: 1 })

/** The plugin configs in one file: a .conf is itself; a .conflist gives each plugin with the list's cniVersion and name. */
const pluginConfigsOf = (json: unknown): ReadonlyArray<Record<string, unknown>> => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return []
  const conf = json as Record<string, unknown>
  if (!Array.isArray(conf.plugins)) return [conf]
  return conf.plugins
    .filter((p): p is Record<string, unknown> => typeof p === "object" && p !== null && !Array.isArray(p))
    .map((plugin) => ({ ...plugin, cniVersion: conf.cniVersion, name: conf.name }))
}

const usesUs = (plugin: Record<string, unknown>): boolean => {
  const ipam = plugin.ipam
  return (
    typeof ipam === "object" && ipam !== null && (ipam as Record<string, unknown>).type === "routetable-ipam"
  )
}

/**
 * The one plugin config `--config` (a .conf/.conflist file, or a directory of them as in
 * /etc/cni/net.d) and `--network` select. Fails (exit 1) when none or several match.
 */
export const readConfig = (
  file: string,
  network: string | undefined
): Effect.Effect<FoundConfig, CommandFailed> =>
  Effect.tryPromise({
    try: async () => {
      const stat = await Fs.stat(file)
      const files = stat.isDirectory()
        ? (await Fs.readdir(file))
            .filter((name) => /\.(conf|conflist|json)$/.test(name))
            .sort()
            .map((name) => Path.join(file, name))
        : [file]
      const found: Array<FoundConfig> = []
      for (const path of files) {
        let json: unknown
        try {
          json = JSON.parse(await Fs.readFile(path, "utf8"))
        } catch (cause) {
          if (!stat.isDirectory())
            throw new Error(`${path}: not JSON: ${cause instanceof Error ? cause.message : cause}`)
          continue
        }
        for (const plugin of pluginConfigsOf(json)) {
          if (usesUs(plugin) && (network === undefined || plugin.name === network))
            found.push({ file: path, plugin })
        }
      }
      return found
    },
    catch: (cause) => failed(`--config: ${cause instanceof Error ? cause.message : String(cause)}`)
  }).pipe(
    Effect.flatMap((found) => {
      const which = network === undefined ? "" : ` of network ${JSON.stringify(network)}`
      if (found.length === 0)
        return Effect.fail(failed(`--config ${file}: no plugin with ipam type routetable-ipam${which}`))
      if (found.length > 1) {
        const names = found.map((f) => `${f.file} (${String(f.plugin.name)})`).join(", ")
        return Effect.fail(
          failed(`--config ${file}: several networks use routetable-ipam (${names}); pick one with --network`)
        )
      }
      return Effect.succeed(found[0]!)
    })
  )

/** The selected network's settings, decoded with the plugin's own decoder (same keys, checks and messages). */
export const readNetworkSettings = (
  file: string,
  network: string | undefined
): Effect.Effect<NetworkSettings, CommandFailed> =>
  Effect.flatMap(readConfig(file, network), (found) => {
    const settings = decodeNetworkConfig(found.plugin)
    return settings instanceof Error
      ? Effect.fail(failed(`${found.file}: ${settings.msg}`))
      : Effect.succeed(settings)
  })
