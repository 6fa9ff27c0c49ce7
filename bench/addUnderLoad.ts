// ADD wall time and peak memory of the built plugin with a /16 empty, 90% and 99% taken, and 90% as one block.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"
import { cleanEnv, type ProcessCost, runMeasured } from "./MeasuredProcess.ts"

const projectRoot = path.resolve(import.meta.dirname, "..")
const plugin = path.join(projectRoot, "dist/routetable-ipam")

/** The addresses of a /16 (100.64.0.0/16) to fill: a random fraction, or a contiguous block. */
const fillLines = (fraction: number, contiguous: boolean): Array<string> => {
  const hosts = Array.from({ length: 65534 }, (_, i) => i + 1)
  if (!contiguous) {
    // deterministic shuffle (xorshift), so every run fills the same addresses
    let x = 2463534242
    for (let i = hosts.length - 1; i > 0; i--) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      const j = (x >>> 0) % (i + 1)
      ;[hosts[i], hosts[j]] = [hosts[j]!, hosts[i]!]
    }
  }
  const count = Math.round(65534 * fraction)
  return hosts
    .slice(0, count)
    .map((h) => `route add 100.64.${h >> 8}.${h & 255}/32 dev lo proto 12 metric 32`)
}

export interface Scenario {
  readonly name: string
  readonly fraction: number
  readonly contiguous: boolean
}

export const scenarios: ReadonlyArray<Scenario> = [
  { name: "empty table", fraction: 0, contiguous: false },
  { name: "90% of the /16 taken (random)", fraction: 0.9, contiguous: false },
  { name: "99% of the /16 taken (random)", fraction: 0.99, contiguous: false },
  { name: "90% taken as one block", fraction: 0.9, contiguous: true }
]

export interface ScenarioResult {
  readonly scenario: Scenario
  readonly routes: number
  readonly samples: ReadonlyArray<ProcessCost>
}

/** Fill a fresh namespace for the scenario, then run `runs` ADDs (distinct containers), each timed. */
export const measureScenario = async (
  scenario: Scenario,
  runs: number,
  waitMs: number
): Promise<ScenarioResult> => {
  const ns = await Netns.create()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-bench-"))
  try {
    const lines = fillLines(scenario.fraction, scenario.contiguous)
    if (lines.length > 0)
      await ns.run("ip", ["-batch", "-"], { stdin: `${lines.join("\n")}\n`, timeoutMs: 300_000 })
    const config = JSON.stringify({
      cniVersion: "1.0.0",
      name: "bench",
      type: "routetable-ipam",
      ipam: {
        type: "routetable-ipam",
        ranges: [[{ subnet: "100.64.0.0/16" }]],
        propagationTimeout: `${waitMs}ms`,
        dataDir
      }
    })
    const samples: Array<ProcessCost> = []
    for (let i = 0; i < runs + 1; i++) {
      const sample = await runMeasured(
        ns,
        [process.execPath, plugin],
        cleanEnv({
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: `bench${i}`,
          CNI_NETNS: ns.path,
          CNI_IFNAME: "eth0",
          CNI_PATH: "/opt/cni/bin"
        }),
        config
      )
      if (sample.code !== 0) throw new Error(`ADD failed in "${scenario.name}": ${sample.stdout}`)
      if (i > 0) samples.push(sample) // the first run warms the page cache
    }
    return { scenario, routes: lines.length, samples }
  } finally {
    await ns.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
