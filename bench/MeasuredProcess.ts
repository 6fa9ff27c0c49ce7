// One measured process: wall time, CPU and peak RSS of a child run through GNU time inside a namespace, and the median the tables quote.
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Netns } from "../test/support/Netns.ts"

/** What the kernel accounted to one finished process (GNU time reads the child's rusage). */
export interface ProcessCost {
  /** Wall milliseconds around the whole process, as the caller sees it (nsenter and time included). */
  readonly wallMs: number
  /** user + sys CPU milliseconds of the measured process and its children. */
  readonly cpuMs: number
  /** Peak resident set in KiB (ru_maxrss). */
  readonly rssKb: number
  readonly code: number
  readonly stdout: string
}

const gnuTime = "/usr/bin/time"

/**
 * The environment every measured process gets, floor included: PATH with this Node first, and
 * nothing that changes Node's start (NODE_OPTIONS, NODE_EXTRA_CA_CERTS: the latter parses a CA
 * bundle at every start, ~80 ms on this machine, and is not set on a kubelet's node).
 */
export const cleanEnv = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => ({
  PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ""}`,
  ...extra
})

/**
 * Starts `command` in `ns` under GNU time and resolves with its wall time, CPU and peak RSS.
 * Netns.spawn inherits the runner's environment; the variables `cleanEnv` removes are overridden
 * with empty values, which Node treats as unset.
 */
export const runMeasured = (
  ns: Netns,
  command: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  stdin: string
): Promise<ProcessCost> =>
  new Promise((resolve, reject) => {
    const costFile = path.join(
      os.tmpdir(),
      `rtipam-cost-${process.pid}-${Math.random().toString(16).slice(2)}`
    )
    const started = process.hrtime.bigint()
    const child: ChildProcess = ns.spawn(gnuTime, ["-f", "%U %S %M", "-o", costFile, ...command], {
      env: { NODE_OPTIONS: "", NODE_EXTRA_CA_CERTS: "", ...env }
    })
    const out: Array<Buffer> = []
    child.stdout?.on("data", (b: Buffer) => out.push(b))
    child.stderr?.resume()
    child.on("error", reject)
    child.on("close", (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6
      const line = fs.readFileSync(costFile, "utf8").trim().split("\n").at(-1) ?? ""
      fs.rmSync(costFile, { force: true })
      const [user = Number.NaN, sys = Number.NaN, rss = Number.NaN] = line.split(" ").map(Number)
      resolve({
        wallMs,
        cpuMs: (user + sys) * 1000,
        rssKb: rss,
        code: code ?? -1,
        stdout: Buffer.concat(out).toString()
      })
    })
    child.stdin?.on("error", () => {})
    child.stdin?.end(stdin)
  })

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] ?? Number.NaN) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2
}

/** A shipped form to measure: its name, the file to run, and its ratio target to the floor. */

/** The key under which the experiment benches keep their `node -e 0` samples. */
export const floorKey = "node -e 0 (floor)"

/**
 * A markdown table of medians per row (wall, ratio to the floor's wall, CPU, its ratio, peak RSS),
 * in the order the samples were first kept; the floor's row is `floorKey`.
 */
export const formatCostTable = (
  heading: string,
  samples: ReadonlyMap<string, ReadonlyArray<ProcessCost>>
): string => {
  const floor = samples.get(floorKey) ?? []
  const floorWall = median(floor.map((s) => s.wallMs))
  const floorCpu = median(floor.map((s) => s.cpuMs))
  return [
    `| ${heading} | median ms | ratio to floor | CPU ms | CPU ratio | peak RSS MiB |`,
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...[...samples].map(([name, rows]) => {
      const wall = median(rows.map((s) => s.wallMs))
      const cpu = median(rows.map((s) => s.cpuMs))
      const rss = median(rows.map((s) => s.rssKb)) / 1024
      return `| ${name} | ${wall.toFixed(1)} | ${(wall / floorWall).toFixed(2)} | ${cpu.toFixed(0)} | ${(cpu / floorCpu).toFixed(2)} | ${rss.toFixed(1)} |`
    })
  ].join("\n")
}
