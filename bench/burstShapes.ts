// `node bench/burstShapes.ts`: CPU per ADD of 64 ADDs run one after another, all at once on one network, and all at once on 64 networks: what sharing one network's records costs a burst.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"
import { installedCopy, seaFile } from "./startupTable.ts"
import { median, runMeasured } from "./MeasuredProcess.ts"
import { cniEnv, networkConfig } from "./verbCost.ts"

type Shape = "one after another" | "at once, one network" | "at once, 64 networks"

const count = 64
const waitMs = 250
const rounds = Number(process.env.BURST_ROUNDS ?? 1)

/** One burst of `count` ADDs of the single executable in a fresh namespace and data directory. */
const burst = async (file: string, shape: Shape) => {
  const ns = await Netns.create()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-shapes-"))
  try {
    const ids = Array.from({ length: count }, (_, i) => `s${i}`)
    const run = (id: string, i: number) =>
      runMeasured(
        ns,
        [file],
        cniEnv(ns, "ADD", id),
        networkConfig(shape === "at once, 64 networks" ? `net${i}` : "burst", dataDir, waitMs)
      )
    const started = process.hrtime.bigint()
    const costs = []
    if (shape === "one after another") for (const [i, id] of ids.entries()) costs.push(await run(id, i))
    else costs.push(...(await Promise.all(ids.map(run))))
    const wall = Number(process.hrtime.bigint() - started) / 1e6
    const failed = costs.filter((c) => c.code !== 0)
    if (failed.length > 0) throw new Error(`${shape}: ${failed.length} ADDs failed: ${failed[0]?.stdout}`)
    return { wall, cpuPerAdd: costs.reduce((sum, c) => sum + c.cpuMs, 0) / count }
  } finally {
    await ns.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The table: the three shapes, `rounds` bursts each, medians. */
export const burstShapesTable = async (): Promise<string> => {
  const copy = installedCopy(seaFile)
  try {
    const shapes: ReadonlyArray<Shape> = ["one after another", "at once, one network", "at once, 64 networks"]
    const lines = [
      `| ${count} ADDs of the single executable, W = ${waitMs} ms (${rounds} rounds) | wall ms | CPU ms per ADD |`,
      "| --- | ---: | ---: |"
    ]
    for (const shape of shapes) {
      const results = []
      for (let round = 0; round < rounds; round++) results.push(await burst(copy.file, shape))
      lines.push(
        `| ${shape} | ${median(results.map((r) => r.wall)).toFixed(0)} | ${median(results.map((r) => r.cpuPerAdd)).toFixed(1)} |`
      )
    }
    return lines.join("\n")
  } finally {
    copy.remove()
  }
}

if (import.meta.main) console.log(await burstShapesTable())
