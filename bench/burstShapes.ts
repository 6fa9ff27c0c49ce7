// `node bench/burstShapes.ts`: CPU per ADD of 64 ADDs run one after another, all at once on one network, and all at once on 64 networks (then their 64 DELs at once): what sharing one network's records costs a burst.
// BEFORE_DIR=<dir> adds the single executable of an older build (<dir>/routetable-ipam-linux-x64), round by round in the same run.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"
import { median, runMeasured } from "./MeasuredProcess.ts"
import { installedCopy, seaFile } from "./startupTable.ts"
import { cniEnv, networkConfig } from "./verbCost.ts"

type Shape = "one after another" | "at once, one network" | "at once, 64 networks"

const count = 64
const waitMs = 250
const rounds = Number(process.env.BURST_ROUNDS ?? 1)

/**
 * One burst of `count` ADDs of the single executable in a fresh namespace and data directory,
 * then (shapes "at once") the same containers' DELs all at once.
 */
const burst = async (file: string, shape: Shape) => {
  const ns = await Netns.create()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-shapes-"))
  try {
    const ids = Array.from({ length: count }, (_, i) => `s${i}`)
    const run = (command: "ADD" | "DEL") => (id: string, i: number) =>
      runMeasured(
        ns,
        [file],
        cniEnv(ns, command, id),
        networkConfig(shape === "at once, 64 networks" ? `net${i}` : "burst", dataDir, waitMs)
      )
    const measure = async (command: "ADD" | "DEL") => {
      const started = process.hrtime.bigint()
      const costs = []
      if (shape === "one after another")
        for (const [i, id] of ids.entries()) costs.push(await run(command)(id, i))
      else costs.push(...(await Promise.all(ids.map(run(command)))))
      const wall = Number(process.hrtime.bigint() - started) / 1e6
      const failed = costs.filter((c) => c.code !== 0)
      if (failed.length > 0)
        throw new Error(`${shape}: ${failed.length} ${command}s failed: ${failed[0]?.stdout}`)
      return { wall, cpuPer: costs.reduce((sum, c) => sum + c.cpuMs, 0) / count }
    }
    const add = await measure("ADD")
    const del = shape === "one after another" ? undefined : await measure("DEL")
    return { add, del }
  } finally {
    await ns.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The table: the three shapes, `rounds` bursts each (each form in turn within a round), medians. */
export const burstShapesTable = async (): Promise<string> => {
  const beforeDir = process.env.BEFORE_DIR
  const forms = [
    ...(beforeDir === undefined
      ? []
      : [{ name: "before: ", copy: installedCopy(path.join(beforeDir, path.basename(seaFile))) }]),
    { name: "", copy: installedCopy(seaFile) }
  ]
  try {
    const shapes: ReadonlyArray<Shape> = ["one after another", "at once, one network", "at once, 64 networks"]
    const lines = [
      `| ${count} ADDs of the single executable, W = ${waitMs} ms (${rounds} rounds) | wall ms | CPU ms per ADD | then their ${count} DELs at once: wall ms | CPU ms per DEL |`,
      "| --- | ---: | ---: | ---: | ---: |"
    ]
    for (const shape of shapes) {
      const results = new Map(forms.map((f) => [f.name, [] as Array<Awaited<ReturnType<typeof burst>>>]))
      for (let round = 0; round < rounds; round++)
        for (const form of forms) results.get(form.name)?.push(await burst(form.copy.file, shape))
      for (const form of forms) {
        const r = results.get(form.name) ?? []
        const of = (xs: ReadonlyArray<number | undefined>) =>
          xs.some((x) => x === undefined) ? "-" : median(xs as ReadonlyArray<number>)
        const fixed = (x: number | string, digits: number) => (typeof x === "number" ? x.toFixed(digits) : x)
        lines.push(
          `| ${form.name}${shape} | ${fixed(of(r.map((x) => x.add.wall)), 0)} | ${fixed(of(r.map((x) => x.add.cpuPer)), 1)} | ${fixed(of(r.map((x) => x.del?.wall)), 0)} | ${fixed(of(r.map((x) => x.del?.cpuPer)), 1)} |`
        )
      }
    }
    return lines.join("\n")
  } finally {
    for (const form of forms) form.copy.remove()
  }
}

if (import.meta.main) console.log(await burstShapesTable())
