// Start-up time of the plugin: median wall time of N runs of `node -e 0`, the bundle and the SEA answering VERSION.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const projectRoot = path.resolve(import.meta.dirname, "..")
const runs = Number(process.env.RUNS ?? 20)
const warmups = 2

interface Subject {
  readonly name: string
  readonly command: ReadonlyArray<string>
}

const defaultSubjects = (): ReadonlyArray<Subject> => [
  { name: "node -e 0", command: [process.execPath, "-e", "0"] },
  { name: "bundle VERSION", command: [path.join(projectRoot, "dist/routetable-ipam")] },
  { name: "SEA VERSION", command: [path.join(projectRoot, "dist/routetable-ipam-linux-x64")] }
]

// `node bench/startup.ts [name=command ...]` measures those instead (command split on spaces)
const subjects: ReadonlyArray<Subject> =
  process.argv.length > 2
    ? process.argv.slice(2).map((argument) => {
        const [name = argument, command = argument] = argument.includes("=") ? argument.split("=", 2) : []
        return { name, command: command.split(" ") }
      })
    : defaultSubjects()

const env = {
  ...process.env,
  PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ""}`,
  CNI_COMMAND: "VERSION"
}

const timeOnce = (command: ReadonlyArray<string>): number => {
  const [file, ...args] = command
  const started = process.hrtime.bigint()
  const run = spawnSync(file ?? "", args, { env, stdio: ["ignore", "pipe", "pipe"] })
  const millis = Number(process.hrtime.bigint() - started) / 1e6
  if (run.status !== 0) throw new Error(`${command.join(" ")} exited ${run.status}: ${run.stderr}`)
  return millis
}

const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN

for (const subject of subjects) {
  const file = subject.command[0] ?? ""
  if (!fs.existsSync(file)) {
    console.log(`${subject.name.padEnd(28)} skipped: ${file} does not exist`)
    continue
  }
  for (let i = 0; i < warmups; i++) timeOnce(subject.command)
  const times = Array.from({ length: runs }, () => timeOnce(subject.command)).sort((a, b) => a - b)
  console.log(
    `${subject.name.padEnd(28)} median ${quantile(times, 0.5).toFixed(1).padStart(6)} ms` +
      `  min ${(times[0] ?? Number.NaN).toFixed(1).padStart(6)}  p90 ${quantile(times, 0.9).toFixed(1).padStart(6)}  (${runs} runs)`
  )
}
