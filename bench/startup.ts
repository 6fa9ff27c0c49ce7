// `node bench/startup.ts [--no-before] [--add] [name=file ...]`: start-up table vs `node -e 0`, optionally ADD's fixed cost.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  buildEagerForms,
  builtForms,
  floorSubject,
  formatAddCostTable,
  formatStartupTable,
  installedCopy,
  measureAddFixedCost,
  measureStartup,
  measureSubjects,
  type StartupSubject,
  seaFile
} from "./startupTable.ts"

const runs = Number(process.env.RUNS ?? 20)
const waitMs = 250
const args = process.argv.slice(2)
// `name=file` pairs: those executables (each run from an installed copy) instead of dist/
const forms = args
  .filter((a) => a.includes("="))
  .map((pair) => {
    const [name = pair, file = ""] = pair.split("=", 2)
    if (!fs.existsSync(file)) throw new Error(`${file} does not exist`)
    return { name, file }
  })

console.log(`node ${process.version}, ${runs} runs per row, ${new Date().toISOString()}`)
if (forms.length === 0) {
  console.log(formatStartupTable(await measureStartup(runs, { before: !args.includes("--no-before") })))
} else {
  const copies = forms.map((form) => ({ ...form, copy: installedCopy(form.file) }))
  try {
    const subjects: ReadonlyArray<StartupSubject> = [
      floorSubject,
      ...copies.map(({ name, copy }) => ({
        name: `${name} VERSION`,
        command: [copy.file],
        env: { CNI_COMMAND: "VERSION" },
        stdin: "not read"
      })),
      ...copies.map(({ name, copy }) => ({
        name: `${name} CNI core start (ADD, env missing, rc 4)`,
        command: [copy.file],
        env: { CNI_COMMAND: "ADD" },
        status: 4
      }))
    ]
    console.log(formatStartupTable(measureSubjects(subjects, runs)))
  } finally {
    for (const { copy } of copies) copy.remove()
  }
}
if (args.includes("--add")) {
  console.log("")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-startup-"))
  try {
    const addForms =
      forms.length > 0
        ? forms
        : await buildEagerForms(dir, fs.existsSync(seaFile)).then((before) => [
            ...(before.bundle === undefined ? [] : [{ name: "bundle, before (eager)", file: before.bundle }]),
            ...(before.sea === undefined ? [] : [{ name: "SEA, before (eager)", file: before.sea }]),
            ...builtForms()
          ])
    console.log(formatAddCostTable(await measureAddFixedCost(runs, waitMs, addForms), waitMs))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
