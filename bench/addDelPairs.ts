// `BEFORE_DIR=<dir> node bench/addDelPairs.ts [bundle]`: mean CPU of single ADD and DEL calls (W = 20 ms, empty network) of an older build and this one, interleaved pair by pair.
// GNU time counts CPU in 10 ms steps: the mean over many pairs (RUNS, default 40) resolves what a median of a few cannot.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"
import { median, runMeasured } from "./MeasuredProcess.ts"
import { bundleFile, installedCopy, seaFile } from "./startupTable.ts"
import { cniEnv, networkConfig, tinyWaitMs } from "./verbCost.ts"

const beforeDir = process.env.BEFORE_DIR
if (beforeDir === undefined) throw new Error("usage: BEFORE_DIR=<dir> node bench/addDelPairs.ts [bundle]")
const file = process.argv[2] === "bundle" ? bundleFile : seaFile
const runs = Number(process.env.RUNS ?? 40)
const forms = [
  { name: "before", copy: installedCopy(path.join(beforeDir, path.basename(file))) },
  { name: "after", copy: installedCopy(file) }
]
const ns = await Netns.create()
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-pairs-"))
const samples = new Map<string, Array<number>>()
try {
  let container = 0
  for (let run = 0; run < runs; run++) {
    for (const form of forms) {
      const id = `pair${++container}`
      for (const verb of ["ADD", "DEL"]) {
        const cost = await runMeasured(
          ns,
          [form.copy.file],
          cniEnv(ns, verb, id),
          networkConfig("pairs", dataDir, tinyWaitMs)
        )
        if (cost.code !== 0) throw new Error(`${form.name} ${verb}: ${cost.stdout}`)
        const key = `${form.name} ${verb}`
        samples.set(key, [...(samples.get(key) ?? []), cost.cpuMs])
      }
    }
  }
  console.log(
    `${path.basename(file)}, ${runs} interleaved ADD+DEL pairs per form, load ${os.loadavg()[0]?.toFixed(1)}`
  )
  console.log("| form, verb | mean CPU ms | median CPU ms |\n| --- | ---: | ---: |")
  for (const [key, cpu] of samples)
    console.log(
      `| ${key} | ${(cpu.reduce((a, b) => a + b, 0) / cpu.length).toFixed(1)} | ${median(cpu).toFixed(0)} |`
    )
} finally {
  await ns.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
  for (const form of forms) form.copy.remove()
}
