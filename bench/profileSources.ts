// `node bench/profileSources.ts DIR [--after-netlink] [--entry FILE]`: self time of the bundle's `--cpu-prof` profiles in DIR, per source file and function.
// The bundle is minified into one string: positions are mapped back through a source map of the same
// build (esbuild is deterministic), so run it on profiles of a bundle built from the same checkout.
import * as fs from "node:fs"
import { SourceMap } from "node:module"
import * as path from "node:path"
import * as esbuild from "esbuild"
import { bundleOptions, mainEntryFile } from "../scripts/build.ts"

const [dir = "", ...flags] = process.argv.slice(2)
if (dir === "" || !fs.existsSync(dir))
  throw new Error("usage: node bench/profileSources.ts DIR [--after-netlink] [--entry FILE]")
const afterNetlink = flags.includes("--after-netlink")
// the entry the profiled bundle was built from (default: the executable's main)
const entryFlag = flags.indexOf("--entry")
const entry = entryFlag === -1 ? mainEntryFile : path.resolve(flags[entryFlag + 1] ?? "")

const { banner: _, ...options } = bundleOptions({
  entry,
  outfile: "program.cjs",
  addonSource: "embedded"
})
const built = await esbuild.build({ ...options, write: false, sourcemap: "external" })
const mapFile = built.outputFiles.find((f) => f.path.endsWith(".map"))
if (mapFile === undefined) throw new Error("esbuild wrote no source map")
const map = new SourceMap(JSON.parse(mapFile.text))
// scripts/build.ts wrapProgram puts this before the program on its first line
const wrapperLength = "(function (exports, require, module, __filename, __dirname) {".length

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Where a frame comes from: a package or a file of ours (mapped), or Node's module. */
const sourceOf = (frame: CallFrame): { readonly source: string; readonly fn: string } => {
  if (!frame.url.includes("routetable-ipam"))
    return { source: frame.url === "" ? `(${frame.functionName})` : frame.url, fn: frame.functionName }
  const column = frame.lineNumber === 0 ? frame.columnNumber - wrapperLength : frame.columnNumber
  const entry = map.findEntry(frame.lineNumber, column) as {
    originalSource?: string
    originalLine?: number
    name?: string
  }
  const original = entry.originalSource ?? "?"
  const source = original.includes("node_modules/")
    ? (original.split("node_modules/").pop() ?? "").split("/").slice(0, 3).join("/")
    : path.relative(path.resolve(import.meta.dirname, ".."), original)
  return { source, fn: `${source}:${(entry.originalLine ?? 0) + 1} ${entry.name ?? frame.functionName}` }
}

const files = fs.readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))
const bySource = new Map<string, number>()
const byFunction = new Map<string, number>()
let total = 0
for (const file of files) {
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as Profile
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const inNetlinkAdapter = (id: number): boolean => {
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const node = nodes.get(x)
      if (node !== undefined && sourceOf(node.callFrame).source === "src/adapters/NetlinkRouteTable.ts")
        return true
    }
    return false
  }
  let counting = !afterNetlink
  profile.samples.forEach((id, i) => {
    counting ||= inNetlinkAdapter(id)
    const node = nodes.get(id)
    if (!counting || node === undefined) return
    const micros = profile.timeDeltas[i + 1] ?? 0
    const { source, fn } = sourceOf(node.callFrame)
    bySource.set(source, (bySource.get(source) ?? 0) + micros)
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros)
    total += micros
  })
}
const top = (m: Map<string, number>, n: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${(v / 1000 / files.length).toFixed(1).padStart(7)} ms  ${k}`)
    .join("\n")
console.log(
  `${files.length} profiles, ${(total / 1000 / files.length).toFixed(1)} ms sampled per run${afterNetlink ? " from the netlink adapter's start" : ""}`
)
console.log(
  `-- self time per source\n${top(bySource, 30)}\n-- self time per function\n${top(byFunction, 25)}`
)
