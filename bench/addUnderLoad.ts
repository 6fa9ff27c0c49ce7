// ADD wall time and peak memory of the built plugin with a /16 empty, 90% and 99% taken, and 90% as one block.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Netns } from "../test/support/Netns.ts"

const projectRoot = path.resolve(import.meta.dirname, "..")
const plugin = path.join(projectRoot, "dist/routetable-ipam")

/** One timed run: wall milliseconds around the whole process, peak RSS from GNU time. */
interface Sample {
  readonly wallMs: number
  readonly rssKb: number
  readonly code: number
  readonly stdout: string
}

const hasGnuTime = fs.existsSync("/usr/bin/time")

/** Run the plugin inside `ns` with CNI env and stdin; measure wall time and peak RSS. */
export const runPlugin = (ns: Netns, env: Record<string, string>, stdin: string): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const rssFile = path.join(os.tmpdir(), `rtipam-rss-${process.pid}-${Math.random().toString(16).slice(2)}`)
    const command = hasGnuTime ? "/usr/bin/time" : process.execPath
    const args = hasGnuTime ? ["-f", "%M", "-o", rssFile, process.execPath, plugin] : [plugin]
    const started = process.hrtime.bigint()
    const child = ns.spawn(command, args, { env: { ...env, PATH: process.env.PATH ?? "" } })
    const out: Array<Buffer> = []
    child.stdout?.on("data", (b: Buffer) => out.push(b))
    child.stderr?.resume()
    child.on("error", reject)
    child.on("close", (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6
      let rssKb = Number.NaN
      if (hasGnuTime) {
        rssKb = Number(fs.readFileSync(rssFile, "utf8").trim().split("\n").at(-1))
        fs.rmSync(rssFile, { force: true })
      }
      resolve({ wallMs, rssKb, code: code ?? -1, stdout: Buffer.concat(out).toString() })
    })
    child.stdin?.end(stdin)
  })

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

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
  readonly samples: ReadonlyArray<Sample>
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
    const samples: Array<Sample> = []
    for (let i = 0; i < runs + 1; i++) {
      const sample = await runPlugin(
        ns,
        {
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: `bench${i}`,
          CNI_NETNS: ns.path,
          CNI_IFNAME: "eth0",
          CNI_PATH: "/opt/cni/bin"
        },
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

export { median }
