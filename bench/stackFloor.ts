// `node bench/stackFloor.ts`: where the floor of an Effect CNI plugin is: node -e 0, a minimal Effect plugin, our CNI core on memory adapters, the shipped ADD.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { projectRoot } from "../scripts/build.ts"
import { buildSea } from "../scripts/build-sea.ts"
import { Netns } from "../test/support/Netns.ts"
import { cleanEnv, floorKey, formatCostTable, type ProcessCost, runMeasured } from "./MeasuredProcess.ts"
import { installedCopy } from "./startupTable.ts"
import { cniEnv, networkConfig, tinyWaitMs } from "./verbCost.ts"

const runs = Number(process.env.RUNS ?? 13)

// Each form is a single executable built exactly as the shipped one (program asset + V8 code cache
// trained by one real ADD), run from an installed copy; every ADD has W = 20 ms subtracted.
// `waits`: the form runs the claim protocol, so its ADD includes W, which the table subtracts
const entries: Record<string, { readonly entry: string; readonly waits: boolean }> = {
  "Effect core alone (one Schema decode in Effect.runSync, stdin and stdout with fs)": {
    entry: "bench/effectCoreEntry.ts",
    waits: false
  },
  "minimal Effect plugin (runMain, NodeStdio, one Schema decode, JSON out)": {
    entry: "bench/minimalEffectEntry.ts",
    waits: false
  },
  "our CNI core on memory adapters (no kernel, files or lock)": {
    entry: "bench/memoryCniEntry.ts",
    waits: true
  },
  "shipped single executable": { entry: "src/app/main.ts", waits: true }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-stack-floor-"))
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-stack-floor-data-"))
const copies: Array<{ readonly remove: () => void }> = []
const ns = await Netns.create()
try {
  const forms: Array<[string, string, boolean]> = []
  for (const [name, { entry, waits }] of Object.entries(entries)) {
    process.stderr.write(`building: ${name} ...\n`)
    const outfile = path.join(work, path.basename(entry, ".ts"))
    await buildSea({ entry: path.join(projectRoot, entry), outfile, codeCache: true })
    const copy = installedCopy(outfile)
    copies.push(copy)
    forms.push([name, copy.file, waits])
  }
  const samples = new Map<string, Array<ProcessCost>>()
  let container = 0
  for (let round = 0; round <= runs; round++) {
    const keep = (key: string, cost: ProcessCost) => {
      if (round > 0) samples.set(key, [...(samples.get(key) ?? []), cost])
    }
    keep(floorKey, await runMeasured(ns, [process.execPath, "-e", "0"], cleanEnv(), ""))
    for (const [name, file, waits] of forms) {
      const config = networkConfig("floor", dataDir, tinyWaitMs)
      const add = await runMeasured(ns, [file], cniEnv(ns, "ADD", `floor${++container}`), config)
      if (add.code !== 0 || !add.stdout.includes('"ips"'))
        throw new Error(`${name}: ADD exited ${add.code}: ${add.stdout}`)
      keep(name, waits ? { ...add, wallMs: add.wallMs - tinyWaitMs } : add)
    }
  }
  console.log(
    `node ${process.version}, ${new Date().toISOString()}, ${runs} interleaved rounds, private netns`
  )
  console.log(formatCostTable("ADD of (minus W = 20 ms where the form waits)", samples))
} finally {
  for (const copy of copies) copy.remove()
  await ns.close()
  fs.rmSync(work, { recursive: true, force: true })
  fs.rmSync(dataDir, { recursive: true, force: true })
}
