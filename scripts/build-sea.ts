// Builds dist/routetable-ipam-linux-x64: a Node 24 single executable application with the netlink addon as an asset.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as esbuild from "esbuild"
import { programAsset, programCodeCacheAsset } from "../src/app/entry/seaAssets.ts"
import { netlinkAddonAsset } from "../src/app/nativeAddon/seaNetlinkAddon.ts"
import {
  argument,
  bundleOptions,
  bundleProgram,
  isMainEntry,
  mainEntryFile,
  makeCodeCache,
  netlinkAddonFile,
  projectRoot,
  wrapProgram
} from "./build.ts"

/** The SEA's main when the program is an asset (answers VERSION, else runs the program). */
export const seaMainFile = path.join(projectRoot, "src/app/entry/seaMain.ts")

/** Marker postject flips so the Node binary knows it carries a SEA blob (fixed by Node). */
const seaFuse = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"

const isElf = (file: string): boolean => {
  const header = Buffer.alloc(4)
  const fd = fs.openSync(file, "r")
  try {
    fs.readSync(fd, header, 0, 4, 0)
  } finally {
    fs.closeSync(fd)
  }
  return header.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
}

/**
 * The real Node 24 binary to embed: the pinned `node` package (node_modules/.bin/node is a symlink
 * to it), else the node running this script. It must be an ELF file (not a wrapper script) and
 * report v24, because the blob's code cache is only valid for the exact binary that made it.
 */
export const findNodeBinary = (): string => {
  const candidates = [path.join(projectRoot, "node_modules/.bin/node"), process.execPath]
  for (const candidate of candidates) {
    if (!fs.existsSync(candidate)) continue
    const file = fs.realpathSync(candidate)
    if (!isElf(file)) continue
    const version = execFileSync(file, ["--version"], { encoding: "utf8" }).trim()
    if (version.startsWith("v24.")) return file
  }
  throw new Error(`no Node 24 ELF binary among ${candidates.join(", ")}`)
}

const hasCommand = (command: string): boolean => {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** postject from devDependencies (`postject@1.0.0-alpha.6`), or the command in `POSTJECT`; undefined if neither. */
export const findPostject = (): string | undefined => {
  const override = process.env.POSTJECT
  if (override !== undefined && override !== "") return override
  const local = path.join(projectRoot, "node_modules/.bin/postject")
  return fs.existsSync(local) ? local : undefined
}

const postjectCommand = (): string => {
  const postject = findPostject()
  if (postject === undefined)
    throw new Error("postject is missing: add the devDependency postject@1.0.0-alpha.6")
  return postject
}

/**
 * Makes the blob `seaConfig` describes (Node's `--experimental-sea-config`, written to
 * `configFile`) with the embedded Node binary and injects it into a (stripped, when `strip`
 * exists) copy of that binary, renamed onto `outfile`.
 */
export const writeSeaExecutable = (
  seaConfig: { readonly main: string; readonly output: string } & Record<string, unknown>,
  configFile: string,
  outfile: string
): void => {
  const node = findNodeBinary()
  fs.writeFileSync(configFile, JSON.stringify({ ...seaConfig, disableExperimentalSEAWarning: true }))
  execFileSync(node, ["--experimental-sea-config", configFile], { stdio: ["ignore", "pipe", "pipe"] })
  fs.mkdirSync(path.dirname(outfile), { recursive: true })
  const staging = `${outfile}.tmp-${process.pid}`
  fs.copyFileSync(node, staging)
  fs.chmodSync(staging, 0o755)
  try {
    if (hasCommand("strip")) execFileSync("strip", [staging], { stdio: "inherit" })
    // postject prints one harmless "Can't find string offset for section name" warning per note section
    execFileSync(
      postjectCommand(),
      [staging, "NODE_SEA_BLOB", seaConfig.output, "--sentinel-fuse", seaFuse],
      {
        stdio: ["ignore", "ignore", "pipe"]
      }
    )
    fs.renameSync(staging, outfile)
  } finally {
    fs.rmSync(staging, { force: true })
  }
}

/**
 * Builds the single executable. By default (`programAsAsset`) `entry` is bundled as CommonJS into
 * the asset `program.js` with its V8 code cache as `program.cache` (made by the embedded Node
 * binary, see makeCodeCache; empty unless `codeCache`, which defaults to true for src/app/main.ts),
 * and the SEA main is src/app/entry/seaMain.ts; with `programAsAsset: false`, the bundle of
 * `entry` is the main itself (the layout before the start-up work, kept for the benchmark).
 * The blob has `useCodeCache: true` and the netlink addon as the asset `netlink.node`; it is
 * injected into a (stripped, when `strip` exists) copy of the Node 24 binary, renamed onto
 * `outfile`. Returns its size in bytes.
 */
export const buildSea = async (options: {
  readonly entry: string
  readonly outfile: string
  readonly programAsAsset?: boolean
  readonly codeCache?: boolean
}): Promise<number> => {
  const node = findNodeBinary()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "routetable-ipam-sea-"))
  try {
    const main = path.join(work, "main.cjs")
    const blob = path.join(work, "sea-prep.blob")
    const config = path.join(work, "sea-config.json")
    const assets: Record<string, string> = { [netlinkAddonAsset]: netlinkAddonFile }
    if (options.programAsAsset ?? true) {
      const program = wrapProgram(await bundleProgram({ entry: options.entry, addonSource: "sea" }))
      const programFile = path.join(work, programAsset)
      const cacheFile = path.join(work, programCodeCacheAsset)
      fs.writeFileSync(programFile, program)
      const withCache = options.codeCache ?? isMainEntry(options.entry)
      fs.writeFileSync(cacheFile, withCache ? makeCodeCache(program, node) : new Uint8Array(0))
      assets[programAsset] = programFile
      assets[programCodeCacheAsset] = cacheFile
      await esbuild.build(bundleOptions({ entry: seaMainFile, outfile: main, addonSource: "sea" }))
    } else {
      await esbuild.build(bundleOptions({ entry: options.entry, outfile: main, addonSource: "sea" }))
    }
    writeSeaExecutable({ main, output: blob, useCodeCache: true, assets }, config, options.outfile)
    return fs.statSync(options.outfile).size
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const started = process.hrtime.bigint()
  const entry = path.resolve(argument("entry", mainEntryFile))
  const outfile = path.resolve(argument("outfile", path.join(projectRoot, "dist/routetable-ipam-linux-x64")))
  const size = await buildSea({ entry, outfile })
  const millis = Number(process.hrtime.bigint() - started) / 1e6
  console.log(
    `${path.relative(process.cwd(), outfile)}: ${(size / 1024 / 1024).toFixed(1)} MiB in ${(millis / 1000).toFixed(1)} s`
  )
}
