// Start-up time of the shipped forms against `node -e 0` (the floor), in one interleaved run, and ADD's fixed cost.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"
import { median, runMeasured } from "./MeasuredProcess.ts"

const projectRoot = path.resolve(import.meta.dirname, "..")

/** The built plain bundle (`npm run build`). */
export const bundleFile = path.join(projectRoot, "dist/routetable-ipam")
/** The built single executable (`npm run build:sea`). */
export const seaFile = path.join(projectRoot, "dist/routetable-ipam-linux-x64")

/** One program to start: argv, extra environment, stdin. */
export interface StartupSubject {
  readonly name: string
  readonly command: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  readonly stdin?: string
  /** The exit status a correct run ends with (default 0). */
  readonly status?: number
}

/** One row of the table: wall milliseconds of whole processes, and the ratio of the median to the floor's. */
export interface StartupRow {
  readonly name: string
  readonly runs: number
  readonly medianMs: number
  readonly minMs: number
  readonly maxMs: number
  /** Median divided by the first row's median (the floor). */
  readonly ratio: number
  /** Peak resident set of one run in KiB (GNU time), NaN when /usr/bin/time is missing. */
  readonly peakRssKb: number
}

/** Rows in subject order; the first row is the floor. */
export type Rows = ReadonlyArray<StartupRow>

/** The Node 24 that runs this script: first on PATH, so `#!/usr/bin/env node` finds it. */
const nodeEnv = (): Record<string, string> => ({
  ...(process.env as Record<string, string>),
  PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ""}`
})

const timeOnce = (subject: StartupSubject): number => {
  const [file = "", ...args] = subject.command
  const started = process.hrtime.bigint()
  const run = spawnSync(file, args, {
    env: { ...nodeEnv(), ...subject.env },
    input: subject.stdin ?? "",
    stdio: ["pipe", "pipe", "pipe"]
  })
  const millis = Number(process.hrtime.bigint() - started) / 1e6
  if (run.status !== (subject.status ?? 0))
    throw new Error(
      `${subject.name}: ${subject.command.join(" ")} exited ${run.status}: ${run.stdout}${run.stderr}`
    )
  return millis
}

const gnuTime = "/usr/bin/time"

/** Peak RSS (KiB) of one run, through GNU time; NaN without it. */
const peakRssOnce = (subject: StartupSubject): number => {
  if (!fs.existsSync(gnuTime)) return Number.NaN
  const run = spawnSync(gnuTime, ["-f", "%M", ...subject.command], {
    env: { ...nodeEnv(), ...subject.env },
    input: subject.stdin ?? "",
    stdio: ["pipe", "pipe", "pipe"]
  })
  return Number(run.stderr.toString().trim().split("\n").at(-1))
}

/**
 * A copy of the bundle in a fresh private directory, as an operator installs it into /opt/cni/bin:
 * no package.json above it, so Node runs it as CommonJS (under dist/, the repository's
 * `"type": "module"` makes Node run the same file as ESM, which starts a few ms slower).
 */
export const installedCopy = (file: string): { readonly file: string; readonly remove: () => void } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-startup-"))
  const copy = path.join(dir, path.basename(file))
  fs.copyFileSync(file, copy)
  fs.chmodSync(copy, 0o755)
  return { file: copy, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/** Whether `file` starts with `#!` (the bundle), rather than being an ELF binary (the SEA). */
const isScript = (file: string): boolean => {
  const head = Buffer.alloc(2)
  const fd = fs.openSync(file, "r")
  try {
    fs.readSync(fd, head, 0, 2, 0)
  } finally {
    fs.closeSync(fd)
  }
  return head.toString() === "#!"
}

/** The two shipped forms, as files (either may be missing). */
export interface Forms {
  readonly bundle?: string | undefined
  readonly sea?: string | undefined
}

/**
 * For each form: VERSION (must print the reply, stdin not read) and the CNI core's start (ADD with
 * CNI_CONTAINERID etc. missing: loads and starts everything ADD needs, then exits 4 before any
 * kernel work).
 */
export const formSubjects = (label: string, forms: Forms): ReadonlyArray<StartupSubject> =>
  [
    { form: "bundle", file: forms.bundle },
    { form: "SEA", file: forms.sea }
  ].flatMap(({ form, file }) =>
    file === undefined
      ? []
      : [
          {
            name: `${form} VERSION${label}`,
            command: [file],
            env: { CNI_COMMAND: "VERSION" },
            stdin: "not read"
          },
          {
            name: `${form} CNI core start (ADD, env missing, rc 4)${label}`,
            command: [file],
            env: { CNI_COMMAND: "ADD" },
            status: 4
          }
        ]
  )

/**
 * Times every subject `runs` times, interleaved (one run of each in turn, after two warm-up
 * rounds) so drifting machine load hits all rows alike; then 3 extra runs each for peak RSS.
 * The first subject is the floor that ratios divide by.
 */
export const measureSubjects = (subjects: ReadonlyArray<StartupSubject>, runs: number): Rows => {
  for (let round = 0; round < 2; round++) for (const subject of subjects) timeOnce(subject)
  const times = subjects.map(() => [] as Array<number>)
  for (let round = 0; round < runs; round++)
    subjects.forEach((subject, i) => {
      times[i]?.push(timeOnce(subject))
    })
  const floor = median(times[0] ?? [])
  return subjects.map((subject, i) => {
    const samples = times[i] ?? []
    const rss = [0, 1, 2].map(() => peakRssOnce(subject))
    return {
      name: subject.name,
      runs,
      medianMs: median(samples),
      minMs: Math.min(...samples),
      maxMs: Math.max(...samples),
      ratio: median(samples) / floor,
      peakRssKb: Math.max(...rss)
    }
  })
}

/** The floor: a bare Node start. */
export const floorSubject: StartupSubject = {
  name: "node -e 0 (floor)",
  command: [process.execPath, "-e", "0"]
}

/**
 * The "before" forms, built into `dir` from the same sources with the entry as it was before the
 * start-up work: every CNI module imported statically (so all their top-level code runs, even for
 * VERSION), one plain script for the bundle, a SEA with code cache.
 */
export const buildEagerForms = async (dir: string, withSea: boolean): Promise<Forms> => {
  const { bundleOptions } = await import("../scripts/build.ts")
  const { buildSea } = await import("../scripts/build-sea.ts")
  const entry = path.join(dir, "eagerMain.ts")
  const src = (file: string) => JSON.stringify(path.join(projectRoot, "src/app/entry", file))
  fs.writeFileSync(
    entry,
    [
      `import { runCni } from ${src("cniEntry.ts")}`,
      `import { runOperatorCommand } from ${src("operatorEntry.ts")}`,
      "if (process.env.CNI_COMMAND !== undefined) runCni()",
      "else runOperatorCommand(process.argv.slice(2))"
    ].join("\n")
  )
  const bundle = path.join(dir, "routetable-ipam-eager")
  const esbuild = await import("esbuild")
  await esbuild.build(bundleOptions({ entry, outfile: bundle, addonSource: "embedded" }))
  fs.chmodSync(bundle, 0o755)
  const sea = path.join(dir, "routetable-ipam-eager-sea")
  if (withSea) await buildSea({ entry, outfile: sea, programAsAsset: false })
  return { bundle, ...(withSea ? { sea } : {}) }
}

/**
 * Start-up of the built forms against `node -e 0`, all in one interleaved run of `runs` rounds:
 * VERSION and the CNI core's start, for the bundle (an installed copy) and the SEA; with
 * `before` (default true) also the same for the eager forms of `buildEagerForms` (built on the
 * fly, about 3 s). Forms that are not built are left out.
 */
export const measureStartup = async (
  runs: number,
  options: { readonly before?: boolean } = {}
): Promise<Rows> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-startup-"))
  const bundle = fs.existsSync(bundleFile) ? installedCopy(bundleFile) : undefined
  const sea = fs.existsSync(seaFile) ? seaFile : undefined
  try {
    const before = options.before === false ? {} : await buildEagerForms(dir, sea !== undefined)
    return measureSubjects(
      [
        floorSubject,
        ...formSubjects(", before (eager)", before),
        ...formSubjects("", { bundle: bundle?.file, sea })
      ],
      runs
    )
  } finally {
    bundle?.remove()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const cell = (x: number, digits = 1) => (Number.isNaN(x) ? "n/a" : x.toFixed(digits))

/** A Markdown table of the rows: median, min, max, ratio to the floor, peak RSS. */
export const formatStartupTable = (rows: Rows): string =>
  [
    `| start-up (${rows[0]?.runs ?? 0} interleaved runs) | median ms | min | max | ratio to floor | peak RSS MiB |`,
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${cell(r.medianMs)} | ${cell(r.minMs)} | ${cell(r.maxMs)} | ${cell(r.ratio, 2)} | ${cell(r.peakRssKb / 1024)} |`
    )
  ].join("\n")

/** ADD's fixed cost of one form: its empty-table ADD median minus W. */
export interface AddCostRow {
  readonly name: string
  readonly runs: number
  readonly medianMs: number
  readonly minMs: number
  readonly maxMs: number
  /** medianMs minus W (for the floor row: its plain median). */
  readonly fixedMs: number
}

/** Wall milliseconds of `command` run in `ns` (measured as every bench process is); fails unless it exits 0. */
const timeInNamespace = async (
  ns: Netns,
  command: ReadonlyArray<string>,
  env: Record<string, string>,
  stdin: string
): Promise<number> => {
  const run = await runMeasured(ns, command, env, stdin)
  if (run.code !== 0) throw new Error(`${command.join(" ")} exited ${run.code}: ${run.stdout}`)
  return run.wallMs
}

/**
 * ADD on an empty /16 in a private network namespace, for each built form, interleaved with
 * `node -e 0` through the same nsenter (the floor of this table); fixed cost = median - W.
 */
export const measureAddFixedCost = async (
  runs: number,
  waitMs: number,
  forms: ReadonlyArray<{ readonly name: string; readonly file: string }> = builtForms()
): Promise<ReadonlyArray<AddCostRow>> => {
  const ns = await Netns.create()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-addcost-"))
  // a script (the bundle) runs from an installed copy (CommonJS, as in /opt/cni/bin); a SEA where it is
  const copies = forms.map((form) => (isScript(form.file) ? installedCopy(form.file) : undefined))
  try {
    const config = JSON.stringify({
      cniVersion: "1.0.0",
      name: "startup",
      type: "routetable-ipam",
      ipam: {
        type: "routetable-ipam",
        ranges: [[{ subnet: "100.64.0.0/16" }]],
        propagationTimeout: `${waitMs}ms`,
        dataDir
      }
    })
    const subjects: ReadonlyArray<{ name: string; command: ReadonlyArray<string>; add: boolean }> = [
      { name: "node -e 0 via nsenter (floor)", command: [process.execPath, "-e", "0"], add: false },
      ...forms.map((form, i) => ({
        name: `${form.name} ADD, empty table`,
        command: [copies[i]?.file ?? form.file],
        add: true
      }))
    ]
    let container = 0
    const once = (subject: (typeof subjects)[number]) => {
      container++
      const env = subject.add
        ? {
            PATH: nodeEnv().PATH ?? "",
            CNI_COMMAND: "ADD",
            CNI_CONTAINERID: `startup${container}`,
            CNI_NETNS: ns.path,
            CNI_IFNAME: "eth0",
            CNI_PATH: "/opt/cni/bin"
          }
        : { PATH: nodeEnv().PATH ?? "" }
      return timeInNamespace(ns, subject.command, env, subject.add ? config : "")
    }
    for (const subject of subjects) await once(subject)
    const times = subjects.map(() => [] as Array<number>)
    for (let round = 0; round < runs; round++)
      for (const [i, subject] of subjects.entries()) times[i]?.push(await once(subject))
    return subjects.map((subject, i) => {
      const samples = times[i] ?? []
      const m = median(samples)
      return {
        name: subject.name,
        runs,
        medianMs: m,
        minMs: Math.min(...samples),
        maxMs: Math.max(...samples),
        fixedMs: subject.add ? m - waitMs : m
      }
    })
  } finally {
    for (const copy of copies) copy?.remove()
    await ns.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The shipped forms that are built: the bundle and the SEA. */
export const builtForms = (): ReadonlyArray<{ readonly name: string; readonly file: string }> => [
  ...(fs.existsSync(bundleFile) ? [{ name: "bundle", file: bundleFile }] : []),
  ...(fs.existsSync(seaFile) ? [{ name: "SEA", file: seaFile }] : [])
]

/** A Markdown table of ADD's fixed cost per form. */
export const formatAddCostTable = (rows: ReadonlyArray<AddCostRow>, waitMs: number): string =>
  [
    `| ADD in a private netns (${rows[0]?.runs ?? 0} interleaved runs, W = ${waitMs} ms) | median ms | min | max | fixed cost (median - W) ms |`,
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${cell(r.medianMs)} | ${cell(r.minMs)} | ${cell(r.maxMs)} | ${r.name.includes("floor") ? "-" : cell(r.fixedMs)} |`
    )
  ].join("\n")
