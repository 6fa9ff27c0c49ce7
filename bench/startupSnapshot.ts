// `node bench/startupSnapshot.ts`: would a V8 startup snapshot (SEA `useSnapshot`) cut the per-call cost? Start, ADD and RSS vs the shipped SEA.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as esbuild from "esbuild"
import { bundleOptions, netlinkAddonFile, projectRoot } from "../scripts/build.ts"
import { buildSea, writeSeaExecutable } from "../scripts/build-sea.ts"
import { Netns } from "../test/support/Netns.ts"
import { cleanEnv, floorKey, formatCostTable, type ProcessCost, runMeasured } from "./MeasuredProcess.ts"
import { installedCopy } from "./startupTable.ts"
import { cniEnv, networkConfig, tinyWaitMs } from "./verbCost.ts"

const runs = Number(process.env.RUNS ?? 9)
/** A single executable from one CommonJS main, with or without `useSnapshot` (no assets, no code cache). */
const plainSea = (work: string, name: string, main: string, useSnapshot: boolean): string => {
  const out = path.join(work, name)
  writeSeaExecutable(
    { main, output: path.join(work, `${name}.blob`), useSnapshot },
    path.join(work, `${name}.json`),
    out
  )
  return out
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-snapshot-bench-"))
const ns = await Netns.create()
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-snapshot-data-"))
const copies: Array<{ readonly remove: () => void }> = []
try {
  process.stderr.write(
    "building: the shipped SEA, an empty SEA, an empty snapshot, the CNI core snapshotted ...\n"
  )
  const shipped = path.join(work, "shipped")
  await buildSea({ entry: path.join(projectRoot, "src/app/main.ts"), outfile: shipped })
  const zeroMain = path.join(work, "zero.cjs")
  fs.writeFileSync(zeroMain, "0\n")
  const emptySnapshotMain = path.join(work, "empty-snapshot.cjs")
  fs.writeFileSync(
    emptySnapshotMain,
    'require("node:v8").startupSnapshot.setDeserializeMainFunction(() => {})\n'
  )
  // a snapshot cannot hold a loaded addon, and node:sea serves no assets to a snapshot's program:
  // the addon's bytes are read from node_modules at the first netlink call (lazyBinding), at run time
  const { banner: _, ...coreOptions } = bundleOptions({
    entry: path.join(projectRoot, "bench/snapshotEntry.ts"),
    outfile: path.join(work, "core-snapshot.cjs"),
    addonSource: "embedded"
  })
  await esbuild.build({
    ...coreOptions,
    // first: the build's own plugin leaves this module to the host's require, which a snapshot lacks
    plugins: [
      {
        name: "addon-from-file",
        setup: (build) => {
          build.onResolve({ filter: /^routetable-ipam:netlink-addon$/ }, () => ({
            path: "addon",
            namespace: "addon-from-file"
          }))
          build.onLoad({ filter: /.*/, namespace: "addon-from-file" }, () => ({
            contents: `exports.netlinkAddonBytes = () => new Uint8Array(require("node:fs").readFileSync(${JSON.stringify(netlinkAddonFile)}))`,
            loader: "js"
          }))
        }
      },
      ...(coreOptions.plugins ?? [])
    ]
  })
  // each runs from a copy, as an operator installs it (postject's output file shows a higher peak RSS)
  const built = {
    "SEA, empty program": plainSea(work, "zero", zeroMain, false),
    "SEA, empty startup snapshot": plainSea(work, "empty-snapshot", emptySnapshotMain, true),
    "SEA, CNI core in the snapshot": plainSea(
      work,
      "core-snapshot",
      path.join(work, "core-snapshot.cjs"),
      true
    ),
    "SEA as shipped (code cache)": shipped
  }
  const forms = Object.fromEntries(
    Object.entries(built).map(([name, file]) => {
      const copy = installedCopy(file)
      copies.push(copy)
      return [name, copy.file]
    })
  )
  const samples = new Map<string, Array<ProcessCost>>()
  const keep = (key: string, cost: ProcessCost) => samples.set(key, [...(samples.get(key) ?? []), cost])
  let container = 0
  for (let round = 0; round <= runs; round++) {
    const record = round === 0 ? () => {} : keep
    record(floorKey, await runMeasured(ns, [process.execPath, "-e", "0"], cleanEnv(), ""))
    for (const [name, file] of Object.entries(forms)) {
      // start: with no CNI_COMMAND the empty forms just exit; the CNI forms answer an ADD whose env is missing (code 4)
      const start = await runMeasured(ns, [file], cleanEnv({ CNI_COMMAND: "ADD" }), "")
      record(`${name}: start (ADD, env missing)`, start)
      if (name.includes("CNI core") || name.includes("shipped")) {
        const id = `snap${++container}`
        const add = await runMeasured(
          ns,
          [file],
          cniEnv(ns, "ADD", id),
          networkConfig("snap", dataDir, tinyWaitMs)
        )
        if (add.code !== 0) throw new Error(`${name} ADD exited ${add.code}: ${add.stdout}`)
        record(`${name}: ADD minus W`, { ...add, wallMs: add.wallMs - tinyWaitMs })
      }
    }
  }
  console.log(
    `node ${process.version}, ${new Date().toISOString()}, ${runs} interleaved rounds, private netns`
  )
  console.log(formatCostTable("process", samples))
} finally {
  for (const copy of copies) copy.remove()
  await ns.close()
  fs.rmSync(work, { recursive: true, force: true })
  fs.rmSync(dataDir, { recursive: true, force: true })
}
