// Per-verb cost (ADD minus W, DEL, CHECK, STATUS), CPU and peak RSS per ADD, and a 64-pod burst, each against `node -e 0`.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"
import { cleanEnv, median, type ProcessCost, runMeasured } from "./MeasuredProcess.ts"

export interface Form {
  readonly name: string
  readonly file: string
  /** The issue's bound on every verb's ratio to `node -e 0` (1.5 for the SEA, 2 for the bundle). */
  readonly target: number
}

/** The network config every verb of this bench uses (cniVersion 1.1.0, so STATUS and GC are valid). */
export const networkConfig = (name: string, dataDir: string, waitMs: number, prevResult?: unknown): string =>
  JSON.stringify({
    cniVersion: "1.1.0",
    name,
    type: "routetable-ipam",
    ipam: {
      type: "routetable-ipam",
      ranges: [[{ subnet: "100.64.0.0/16" }]],
      propagationTimeout: `${waitMs}ms`,
      dataDir
    },
    ...(prevResult === undefined ? {} : { prevResult })
  })

export const cniEnv = (ns: Netns, command: string, container: string): Record<string, string> =>
  cleanEnv({
    CNI_COMMAND: command,
    CNI_CONTAINERID: container,
    CNI_NETNS: ns.path,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin"
  })

/** One row of the per-verb table: medians over the interleaved rounds. */
export interface VerbRow {
  readonly name: string
  /** The target ratio, or undefined for the floor. */
  readonly target: number | undefined
  readonly wallMs: number
  readonly minMs: number
  readonly maxMs: number
  /** wallMs (ADD: minus W) divided by the floor's median wall. */
  readonly ratio: number
  readonly cpuMs: number
  readonly cpuRatio: number
  readonly rssKb: number
}

/** The minimum propagationTimeout the config accepts: ADD's rows subtract it. */
export const tinyWaitMs = 20

/**
 * In one private namespace, `runs` rounds of: `node -e 0` (the floor), then for each form an
 * ADD (W = 20 ms, the smallest accepted, a new container each round), CHECK of that container
 * (prevResult = ADD's result), STATUS, and DEL. Every process runs under GNU time through the
 * same nsenter, so the floor pays the same wrapper. One warm-up round first.
 */
export const measureVerbs = async (
  forms: ReadonlyArray<Form>,
  runs: number
): Promise<ReadonlyArray<VerbRow>> => {
  const ns = await Netns.create()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-verbs-"))
  const verbs = ["ADD", "CHECK", "STATUS", "DEL"] as const
  const keys = ["floor", ...forms.flatMap((f) => verbs.map((v) => `${f.name}|${v}`))]
  const samples = new Map<string, Array<ProcessCost>>(keys.map((k) => [k, []]))
  try {
    let container = 0
    for (let round = 0; round <= runs; round++) {
      const keep = (key: string, cost: ProcessCost) => {
        if (round > 0) samples.get(key)?.push(cost)
      }
      keep("floor", await runMeasured(ns, [process.execPath, "-e", "0"], cleanEnv(), ""))
      for (const form of forms) {
        const id = `verbs${++container}`
        const config = networkConfig("verbs", dataDir, tinyWaitMs)
        const add = await runMeasured(ns, [form.file], cniEnv(ns, "ADD", id), config)
        if (add.code !== 0) throw new Error(`${form.name} ADD exited ${add.code}: ${add.stdout}`)
        keep(`${form.name}|ADD`, add)
        const withPrev = networkConfig("verbs", dataDir, tinyWaitMs, JSON.parse(add.stdout))
        for (const [verb, stdin] of [
          ["CHECK", withPrev],
          ["STATUS", config],
          ["DEL", withPrev]
        ] as const) {
          const cost = await runMeasured(ns, [form.file], cniEnv(ns, verb, id), stdin)
          if (cost.code !== 0) throw new Error(`${form.name} ${verb} exited ${cost.code}: ${cost.stdout}`)
          keep(`${form.name}|${verb}`, cost)
        }
      }
    }
  } finally {
    await ns.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  const floor = samples.get("floor") ?? []
  const floorWall = median(floor.map((s) => s.wallMs))
  const floorCpu = median(floor.map((s) => s.cpuMs))
  return keys.map((key) => {
    const [formName, verb] = key.split("|")
    const form = forms.find((f) => f.name === formName)
    const rows = samples.get(key) ?? []
    const minus = verb === "ADD" ? tinyWaitMs : 0
    const walls = rows.map((s) => s.wallMs - minus)
    const wall = median(walls)
    const cpu = median(rows.map((s) => s.cpuMs))
    return {
      name: verb === undefined ? "node -e 0 (floor)" : `${formName} ${verb === "ADD" ? "ADD minus W" : verb}`,
      target: form?.target,
      wallMs: wall,
      minMs: Math.min(...walls),
      maxMs: Math.max(...walls),
      ratio: wall / floorWall,
      cpuMs: cpu,
      cpuRatio: cpu / floorCpu,
      rssKb: median(rows.map((s) => s.rssKb))
    }
  })
}

const cell = (x: number, digits = 1) => (Number.isNaN(x) ? "n/a" : x.toFixed(digits))

/** The per-verb table: wall, ratio to the floor next to its target, CPU and its ratio, peak RSS. */
export const formatVerbTable = (rows: ReadonlyArray<VerbRow>, runs: number, rssTargetMb: number): string =>
  [
    `| verb (${runs} interleaved rounds, private netns) | median ms | min | max | ratio to floor | target | CPU ms | CPU ratio | peak RSS MiB (target <= ${rssTargetMb}) |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${cell(r.wallMs)} | ${cell(r.minMs)} | ${cell(r.maxMs)} | ${cell(r.ratio, 2)} | ${r.target === undefined ? "-" : `<= ${r.target}`} | ${cell(r.cpuMs)} | ${cell(r.cpuRatio, 2)} | ${cell(r.rssKb / 1024)} |`
    )
  ].join("\n")

/** One burst: how long until every one of `count` concurrent processes had finished. */
export interface BurstRow {
  readonly name: string
  readonly rounds: number
  readonly medianMs: number
  readonly minMs: number
  readonly maxMs: number
  /** The bound the issue sets for this row. */
  readonly targetMs: number
  /** Summed user+sys CPU of the `count` processes (median over rounds). */
  readonly cpuMs: number
}

/**
 * `count` concurrent ADDs on one node (one network, W = `waitMs`), all started at once; the time
 * until the last one exits; then `count` concurrent DELs of the same containers. Every process
 * must succeed. `rounds` rounds, each in a fresh namespace and data directory.
 */
export const measureBurst = async (
  form: Form,
  count: number,
  waitMs: number,
  rounds: number
): Promise<ReadonlyArray<BurstRow>> => {
  const floors: Array<{ wall: number; cpu: number }> = []
  const adds: Array<{ wall: number; cpu: number }> = []
  const dels: Array<{ wall: number; cpu: number }> = []
  for (let round = 0; round < rounds; round++) {
    const ns = await Netns.create()
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-burst-"))
    try {
      const config = networkConfig("burst", dataDir, waitMs)
      const ids = Array.from({ length: count }, (_, i) => `burst${round}x${i}`)
      const wave = async (verb: "ADD" | "DEL" | "floor") => {
        const started = process.hrtime.bigint()
        const costs = await Promise.all(
          ids.map((id) =>
            verb === "floor"
              ? runMeasured(ns, [process.execPath, "-e", "0"], cleanEnv(), "")
              : runMeasured(ns, [form.file], cniEnv(ns, verb, id), config)
          )
        )
        const wall = Number(process.hrtime.bigint() - started) / 1e6
        const failed = costs.filter((c) => c.code !== 0)
        if (failed.length > 0)
          throw new Error(
            `${form.name} burst ${verb}: ${failed.length} of ${count} failed: ${failed[0]?.stdout}`
          )
        return { wall, cpu: costs.reduce((sum, c) => sum + c.cpuMs, 0) }
      }
      floors.push(await wave("floor"))
      adds.push(await wave("ADD"))
      const routes = await ns.run("ip", ["-4", "route", "show", "proto", "192"])
      const held = routes.split("\n").filter((l) => l.trim() !== "").length
      if (held !== count) throw new Error(`burst ADD left ${held} routes, expected ${count}`)
      dels.push(await wave("DEL"))
    } finally {
      await ns.close()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
  const row = (
    name: string,
    xs: ReadonlyArray<{ wall: number; cpu: number }>,
    targetMs: number
  ): BurstRow => ({
    name,
    rounds,
    medianMs: median(xs.map((x) => x.wall)),
    minMs: Math.min(...xs.map((x) => x.wall)),
    maxMs: Math.max(...xs.map((x) => x.wall)),
    targetMs,
    cpuMs: median(xs.map((x) => x.cpu))
  })
  return [
    row(`${form.name} round's floor: ${count} concurrent \`node -e 0\``, floors, Number.NaN),
    row(`${form.name}: ${count} concurrent ADDs, one network, W = ${waitMs} ms`, adds, waitMs + 1500),
    row(`${form.name}: ${count} concurrent DELs`, dels, 1500)
  ]
}

/** The burst table: time until the last process exited, against its bound; each form's rounds start with 64 bare Node starts (the burst's floor). */
export const formatBurstTable = (rows: ReadonlyArray<BurstRow>): string =>
  [
    `| burst (${rows[0]?.rounds ?? 0} rounds) | until all finished, median ms | min | max | target ms | CPU of all processes, ms |`,
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${cell(r.medianMs, 0)} | ${cell(r.minMs, 0)} | ${cell(r.maxMs, 0)} | ${Number.isNaN(r.targetMs) ? "-" : `<= ${r.targetMs}`} | ${cell(r.cpuMs, 0)} |`
    )
  ].join("\n")
