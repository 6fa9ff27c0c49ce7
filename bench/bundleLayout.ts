// `node bench/bundleLayout.ts`: what carrying 2.3 MiB inside a script costs Node at start, as a string literal vs a line comment vs a block comment.
// BEFORE_DIR=<dir> adds an older build's bundle. Each file is run ROUNDS x BATCH times (interleaved); CPU is the batch's children's user+sys from bash's `times`, per run.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bundleFile } from "./startupTable.ts"

const rounds = Number(process.env.ROUNDS ?? 7)
const batch = Number(process.env.BATCH ?? 10)
// base64 of fixed pseudo-random bytes: the size of the bundle's payload
const payload = Buffer.from(
  Uint8Array.from({ length: 1_750_000 }, (_, i) => (i * 2654435761) >>> 24)
).toString("base64")

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-bundle-layout-"))
const files: Record<string, string> = {
  "`0` (an empty script)": "0\n",
  "2.3 MiB line comment": `0\n//${payload}\n`,
  "2.3 MiB block comment": `0\n/*${payload}*/\n`,
  "2.3 MiB string literal (unused)": `var x = "${payload}"\n`
}
const paths = Object.entries(files).map(([name, text]) => {
  const file = path.join(directory, `${Object.keys(files).indexOf(name)}.cjs`)
  fs.writeFileSync(file, text)
  return { name, file, env: {} as Record<string, string> }
})
// VERSION never reads the payload: the bundle's own start, outer layer included
const beforeDir = process.env.BEFORE_DIR
for (const [name, file] of [
  [
    "BEFORE_DIR's routetable-ipam, VERSION",
    beforeDir === undefined ? "" : path.join(beforeDir, "routetable-ipam")
  ],
  ["dist/routetable-ipam, VERSION", bundleFile]
] as const)
  if (file !== "" && fs.existsSync(file)) paths.push({ name, file, env: { CNI_COMMAND: "VERSION" } })

/** CPU ms per run of `batch` runs of `file` (children's user+sys, from bash's `times`, ms resolution). */
const cpuPerRun = (file: string, env: Record<string, string>): number => {
  const run = spawnSync(
    "bash",
    ["-c", `for i in $(seq ${batch}); do "$0" "$1" >/dev/null; done; times`, process.execPath, file],
    { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8" }
  )
  const children = run.stdout.trim().split("\n").at(-1) ?? ""
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]))
  return (((seconds[0] ?? Number.NaN) + (seconds[1] ?? Number.NaN)) * 1000) / batch
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

try {
  const samples = paths.map(() => [] as Array<number>)
  for (let round = 0; round < rounds; round++)
    paths.forEach(({ file, env }, i) => {
      samples[i]?.push(cpuPerRun(file, env))
    })
  const floor = median(samples[0] ?? [])
  console.log(`node ${process.version}, ${rounds} rounds of ${batch} runs, CPU per run (user+sys)`)
  console.log("| script | CPU ms | above `0` |\n| --- | ---: | ---: |")
  paths.forEach(({ name }, i) => {
    const cpu = median(samples[i] ?? [])
    console.log(`| ${name} | ${cpu.toFixed(1)} | ${(cpu - floor).toFixed(1)} |`)
  })
} finally {
  fs.rmSync(directory, { recursive: true, force: true })
}
