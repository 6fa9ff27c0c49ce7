// `node bench/verbs.ts [--no-burst] [--burst-only]`: per-verb cost, CPU and RSS per ADD, and the 64-pod burst, against `node -e 0`.
// BEFORE_DIR=<dir> adds the forms built from an older commit (its routetable-ipam and routetable-ipam-linux-x64) to the same run.
import * as fs from "node:fs"
import * as path from "node:path"
import { bundleFile, installedCopy, seaFile } from "./startupTable.ts"
import { type Form, formatBurstTable, formatVerbTable, measureBurst, measureVerbs } from "./verbCost.ts"

const runs = Number(process.env.RUNS ?? 13)
const burstRounds = Number(process.env.BURST_ROUNDS ?? 3)
const args = process.argv.slice(2)

/** The bound on peak RSS per ADD: no higher than before the work (63-72 MB, read as MiB). */
export const rssTargetMb = 72

/** Runs the verb and burst tables for the built forms and prints them as Markdown. */
export const verbTables = async (options: {
  readonly verbs: boolean
  readonly burst: boolean
}): Promise<string> => {
  // every form runs from a copy in a fresh directory, as an operator installs it: the same SEA
  // binary measured 75 MiB peak RSS run from dist/ (as postject left it) and 58 MiB from a copy
  const copyOf = (file: string) => (fs.existsSync(file) ? installedCopy(file) : undefined)
  const beforeDir = process.env.BEFORE_DIR
  const copies = [
    {
      name: "SEA before",
      copy: beforeDir === undefined ? undefined : copyOf(path.join(beforeDir, path.basename(seaFile))),
      target: 1.5
    },
    { name: "SEA", copy: copyOf(seaFile), target: 1.5 },
    {
      name: "bundle before",
      copy: beforeDir === undefined ? undefined : copyOf(path.join(beforeDir, path.basename(bundleFile))),
      target: 2
    },
    { name: "bundle", copy: copyOf(bundleFile), target: 2 }
  ]
  try {
    const forms: Array<Form> = copies.flatMap(({ name, copy, target }) =>
      copy === undefined ? [] : [{ name, file: copy.file, target }]
    )
    const out: Array<string> = []
    if (options.verbs) {
      process.stderr.write(`measuring: per-verb cost, ${runs} rounds ...\n`)
      out.push(formatVerbTable(await measureVerbs(forms, runs), runs, rssTargetMb))
    }
    if (options.burst) {
      process.stderr.write(`measuring: 64-pod burst, ${burstRounds} rounds per form ...\n`)
      const rows = []
      for (const form of forms) rows.push(...(await measureBurst(form, 64, 250, burstRounds)))
      out.push(formatBurstTable(rows))
    }
    return out.join("\n\n")
  } finally {
    for (const { copy } of copies) copy?.remove()
  }
}

if (import.meta.main) {
  console.log(
    `node ${process.version}, ${new Date().toISOString()}, ${(await import("node:os")).cpus().length} CPUs`
  )
  console.log(
    await verbTables({ verbs: !args.includes("--burst-only"), burst: !args.includes("--no-burst") })
  )
}
