// `node bench/phases.ts`: where one ADD spends its wall time and CPU, phase by phase (bench/phaseMarks.cjs preloaded), per built form.
// BEFORE_DIR=<dir> adds the forms of an older build; RUNS (default 9) ADDs per form, interleaved, in one private netns.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"
import { bundleFile, installedCopy, seaFile } from "./startupTable.ts"
import { cleanEnv, median } from "./MeasuredProcess.ts"
import { tinyWaitMs } from "./verbCost.ts"

const runs = Number(process.env.RUNS ?? 9)
const marksFile = path.join(import.meta.dirname, "phaseMarks.cjs")

interface Mark {
  readonly name: string
  readonly at: number
  readonly cpu: number
}
interface Report {
  readonly marks: ReadonlyArray<Mark>
  readonly totals: {
    readonly fsync: number
    readonly fsyncs: number
    readonly lockWait: number
    readonly locks: number
  }
}

/** One ADD of `file` with the marks preloaded (NODE_OPTIONS reaches the SEA too); the report it wrote to fd 3. */
const markedAdd = (ns: Netns, file: string, container: string, config: string): Promise<Report> =>
  new Promise((resolve, reject) => {
    const isSea = path.basename(file) === path.basename(seaFile)
    const command = isSea ? [file] : [process.execPath, "-r", marksFile, file]
    const [head = "", ...args] = command
    const child = ns.spawn(head, args, {
      env: {
        NODE_EXTRA_CA_CERTS: "",
        ...cleanEnv({
          NODE_OPTIONS: isSea ? `-r ${marksFile}` : "",
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: container,
          CNI_NETNS: ns.path,
          CNI_IFNAME: "eth0",
          CNI_PATH: "/opt/cni/bin"
        })
      }
    })
    // the preload writes its report as the last line of stderr
    const err: Array<Buffer> = []
    child.stderr?.on("data", (b: Buffer) => err.push(b))
    child.stdout?.resume()
    child.on("error", reject)
    child.on("close", (code) => {
      const line = Buffer.concat(err)
        .toString()
        .split("\n")
        .find((l) => l.startsWith('{"marks"'))
      if (code !== 0 || line === undefined)
        reject(new Error(`${file} ADD exited ${code}: ${Buffer.concat(err)}`))
      else resolve(JSON.parse(line) as Report)
    })
    child.stdin?.end(config)
  })

const main = async () => {
  const beforeDir = process.env.BEFORE_DIR
  // each form runs from a copy in a fresh directory, as installed (see bench/verbs.ts)
  const copies = [
    ...(beforeDir === undefined
      ? []
      : [
          { name: "SEA before", copy: installedCopy(path.join(beforeDir, path.basename(seaFile))) },
          { name: "bundle before", copy: installedCopy(path.join(beforeDir, path.basename(bundleFile))) }
        ]),
    { name: "SEA", copy: installedCopy(seaFile) },
    { name: "bundle", copy: installedCopy(bundleFile) }
  ]
  const forms = copies.map(({ name, copy }) => ({ name, file: copy.file }))
  const ns = await Netns.create()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-phases-"))
  const config = JSON.stringify({
    cniVersion: "1.1.0",
    name: "phases",
    type: "routetable-ipam",
    ipam: {
      type: "routetable-ipam",
      ranges: [[{ subnet: "100.64.0.0/16" }]],
      propagationTimeout: `${tinyWaitMs}ms`,
      dataDir
    }
  })
  const reports = forms.map(() => [] as Array<Report>)
  try {
    let container = 0
    for (let round = 0; round <= runs; round++)
      for (const [i, form] of forms.entries()) {
        const report = await markedAdd(ns, form.file, `phases${++container}`, config)
        if (round > 0) reports[i]?.push(report)
      }
  } finally {
    await ns.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
    for (const { copy } of copies) copy.remove()
  }
  console.log(
    `ADD (W = ${tinyWaitMs} ms) phase by phase: median wall ms / CPU ms of each step since the previous mark, ${runs} interleaved runs per form`
  )
  const names = [
    ...new Set(
      reports.flatMap((rs) => rs.flatMap((r) => r.marks.map((m) => m.name.split(" (code")[0] ?? "")))
    )
  ]
  console.log(`| phase | ${forms.map((f) => f.name).join(" | ")} |`)
  console.log(`| --- | ${forms.map(() => "---:").join(" | ")} |`)
  const cellOf = (rs: ReadonlyArray<Report>, name: string) => {
    const steps = rs.flatMap((r) => {
      const i = r.marks.findIndex((m) => m.name.split(" (code")[0] === name)
      if (i < 0) return []
      const prev = i === 0 ? { at: 0, cpu: 0 } : (r.marks[i - 1] ?? { at: 0, cpu: 0 })
      const mark = r.marks[i] ?? prev
      return [{ wall: mark.at - prev.at, cpu: mark.cpu - prev.cpu }]
    })
    return steps.length === 0
      ? "-"
      : `${median(steps.map((s) => s.wall)).toFixed(1)} / ${median(steps.map((s) => s.cpu)).toFixed(1)}`
  }
  for (const name of names) console.log(`| ${name} | ${reports.map((rs) => cellOf(rs, name)).join(" | ")} |`)
  const total = (pick: (r: Report) => number) =>
    reports.map((rs) => median(rs.map(pick)).toFixed(1)).join(" | ")
  console.log(
    `| of which fsync (wall, ${reports[0]?.[0]?.totals.fsyncs ?? "?"} calls) | ${total((r) => r.totals.fsync)} |`
  )
  console.log(`| of which taking the node lock (wall) | ${total((r) => r.totals.lockWait)} |`)
  console.log(
    `| whole process (wall / CPU) | ${reports.map((rs) => `${median(rs.map((r) => r.marks.at(-1)?.at ?? 0)).toFixed(1)} / ${median(rs.map((r) => r.marks.at(-1)?.cpu ?? 0)).toFixed(1)}`).join(" | ")} |`
  )
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
