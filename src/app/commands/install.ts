// `routetable-ipam install`: the executable copies itself and a network config onto the host, atomically (the DaemonSet's init step).
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { decodeNetworkConfig } from "../../adapters/cni/NetworkSettings.ts"
import { CommandFailed } from "../OperatorCommand.ts"
import { helpText } from "./CliFlags.ts"

/** Replaced by scripts/build.ts (esbuild `define`) with deploy/cni/bridge-ipv4.conflist; absent when running from source. */
declare const __RTIPAM_SHIPPED_CONFLIST__: string | undefined

/** The file the shipped conflist comes from (read from the repository when running from source). */
export const shippedConflistFile = "deploy/cni/bridge-ipv4.conflist"

/** The name the conflist gets in the CNI config directory (runtimes take the first file by name). */
export const installedConflistName = "10-routetable-ipam.conflist"

/** The name the executable gets in the CNI bin directory (the `ipam.type` runtimes look up). */
export const installedBinaryName = "routetable-ipam"

const failed = (message: string) => new CommandFailed({ message, exitCode: 1 })
const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** The conflist embedded in the build, or (from source) the repository's file. */
const shippedConflist = (): Effect.Effect<string, CommandFailed> =>
  typeof __RTIPAM_SHIPPED_CONFLIST__ === "string"
    ? Effect.succeed(__RTIPAM_SHIPPED_CONFLIST__)
    : Effect.tryPromise({
        try: () => Fs.readFile(Path.resolve(import.meta.dirname, "../../..", shippedConflistFile), "utf8"),
        catch: (cause) => failed(`the shipped conflist: ${messageOf(cause)}`)
      })

/** This executable: the single executable itself, or the script node runs (dist/routetable-ipam). */
const thisExecutable = async (): Promise<string> => {
  const sea = await import("node:sea").catch(() => undefined)
  if (sea?.isSea()) return process.execPath
  const script = process.argv[1]
  if (script === undefined) throw new Error("cannot tell which file this executable is; pass --from FILE")
  return script
}

/**
 * Why `text` is not a conflist the plugin accepts, or the networks (names) of its plugins that
 * delegate IPAM to us, each decoded with the plugin's own decoder (decodeNetworkConfig).
 */
export const checkConflist = (text: string): { readonly networks: ReadonlyArray<string> } | string => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return `not JSON: ${messageOf(cause)}`
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return "must be a JSON object"
  const list = json as Record<string, unknown>
  if (!Array.isArray(list.plugins)) return "plugins: must be an array (a .conflist)"
  const ours = list.plugins.filter((plugin): plugin is Record<string, unknown> => {
    if (typeof plugin !== "object" || plugin === null || Array.isArray(plugin)) return false
    const ipam = (plugin as Record<string, unknown>).ipam
    return (
      typeof ipam === "object" &&
      ipam !== null &&
      (ipam as Record<string, unknown>).type === "routetable-ipam"
    )
  })
  if (ours.length === 0) return "no plugin with ipam type routetable-ipam"
  const networks: Array<string> = []
  for (const plugin of ours) {
    const settings = decodeNetworkConfig({ ...plugin, cniVersion: list.cniVersion, name: list.name })
    if (settings instanceof Error) return settings.msg
    networks.push(settings.network.name)
  }
  return { networks }
}

/**
 * Writes `data` to DIR/NAME so that a reader sees the old file or the new one, never part of one:
 * a temporary file in DIR (same filesystem), written, fsynced, given `mode`, renamed over the
 * target; then the directory is fsynced so the rename survives a crash. Creates DIR if missing.
 */
export const writeFileAtomically = async (
  directory: string,
  name: string,
  data: Uint8Array | string,
  mode: number
): Promise<string> => {
  await Fs.mkdir(directory, { recursive: true })
  const target = Path.join(directory, name)
  const staging = Path.join(directory, `.${name}.${process.pid}.${Date.now()}.tmp`)
  const file = await Fs.open(staging, "wx", 0o600)
  try {
    await file.writeFile(data)
    await file.chmod(mode)
    await file.sync()
  } catch (cause) {
    await file.close().catch(() => undefined)
    await Fs.rm(staging, { force: true })
    throw cause
  }
  await file.close()
  try {
    await Fs.rename(staging, target)
  } catch (cause) {
    await Fs.rm(staging, { force: true })
    throw cause
  }
  const dir = await Fs.open(directory, "r")
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
  return target
}

const description = `Install this executable and a network config on the host, as the DaemonSet's init container
does (no shell needed):
  - the executable is copied to DIR/${installedBinaryName} of --cni-bin-dir, mode 0755;
  - the conflist (--conflist FILE, else the one built in: ${shippedConflistFile}) is checked with
    the plugin's own config decoder and written to DIR/${installedConflistName} of --cni-conf-dir.
Each file is written to a temporary file in its target directory, fsynced and renamed over the
target, so a container runtime never runs a half-written plugin nor reads a half-written config.
A conflist the plugin would refuse is not written (exit status 1) and the executable is not copied.

Exit status: 0 when both files are in place, 1 when something was refused or failed, 2 for a usage error.`

/** The flags of `install`. */
export const installFlags = {
  cniBinDir: Flag.String("cni-bin-dir").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription("where the runtime looks for CNI plugins (e.g. /opt/cni/bin, mounted from the host)")
  ),
  cniConfDir: Flag.String("cni-conf-dir").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription(
      "where the runtime reads network configs (e.g. /etc/cni/net.d, mounted from the host)"
    )
  ),
  conflist: Flag.String("conflist").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription(`the network config list to install (default: the built-in ${shippedConflistFile})`),
    Flag.optional
  ),
  from: Flag.String("from").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription("the executable to install (default: this executable)"),
    Flag.optional
  )
}

/** `routetable-ipam install`. */
export const installCommand = Command.make("install", installFlags, (input) =>
  Effect.gen(function* () {
    const conflistFile = Option.getOrUndefined(input.conflist)
    const conflist =
      conflistFile === undefined
        ? yield* shippedConflist()
        : yield* Effect.tryPromise({
            try: () => Fs.readFile(conflistFile, "utf8"),
            catch: (cause) => failed(`--conflist: ${messageOf(cause)}`)
          })
    const conflistSource = conflistFile ?? `the built-in ${shippedConflistFile}`
    const checked = checkConflist(conflist)
    if (typeof checked === "string")
      return yield* failed(`refused ${conflistSource}: ${checked}; nothing installed`)
    const source = yield* Effect.tryPromise({
      try: async () => Option.getOrUndefined(input.from) ?? (await thisExecutable()),
      catch: (cause) => failed(messageOf(cause))
    })
    const executable = yield* Effect.tryPromise({
      try: () => Fs.readFile(source),
      catch: (cause) => failed(`reading the executable: ${messageOf(cause)}`)
    })
    const binary = yield* Effect.tryPromise({
      try: () => writeFileAtomically(input.cniBinDir, installedBinaryName, executable, 0o755),
      catch: (cause) => failed(`--cni-bin-dir: ${messageOf(cause)}`)
    })
    yield* Console.log(`installed ${binary} (${executable.length} bytes, mode 0755) from ${source}`)
    const config = yield* Effect.tryPromise({
      try: () => writeFileAtomically(input.cniConfDir, installedConflistName, conflist, 0o644),
      catch: (cause) => failed(`--cni-conf-dir: ${messageOf(cause)}`)
    })
    yield* Console.log(
      `wrote ${config} (mode 0644) from ${conflistSource}: network ${checked.networks.join(", ")} uses routetable-ipam`
    )
  })
).pipe(
  Command.withDescription(helpText(description)),
  Command.withShortDescription("copy this executable and a conflist onto the host, atomically (init step)"),
  Command.withExamples([
    { command: "routetable-ipam install --cni-bin-dir /host/opt/cni/bin --cni-conf-dir /host/etc/cni/net.d" },
    {
      command:
        "routetable-ipam install --cni-bin-dir /opt/cni/bin --cni-conf-dir /etc/cni/net.d --conflist my.conflist"
    }
  ])
)
