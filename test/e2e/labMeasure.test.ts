// `npm run lab -- measure` on a real 3-node BIRD lab: histogram counts add up, and `simulate` accepts the printed --delay.
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { assert, beforeAll, it } from "@effect/vitest"
import { hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { assertPluginBuilt, nodeBinary, pluginFile, projectRoot } from "./support/BuiltPlugin.ts"

const run = promisify(execFile)
const suite = privileged("needs root and BIRD 2 (`apt-get install bird2`)", isRoot() && hasCommand("bird"))

const nodes = 3
const routes = 20

/** The counts of the histogram lines that follow a round's heading ("... | 19 ####"). */
const bucketCounts = (text: string, heading: string): ReadonlyArray<number> => {
  const lines = text.split("\n")
  const start = lines.findIndex((line) => line.startsWith(heading))
  assert.isAbove(start, -1, `no "${heading}" line in:\n${text}`)
  const counts: Array<number> = []
  for (const line of lines.slice(start + 1)) {
    const match = /^ +\S.* \| +(\d+)(?: #+)?$/.exec(line)
    if (match === null) break
    counts.push(Number(match[1]))
  }
  return counts
}

const missingOf = (text: string, heading: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(heading)) ?? ""
  return Number(/(\d+) missing/.exec(line)?.[1] ?? Number.NaN)
}

suite("npm run lab -- measure", () => {
  beforeAll(assertPluginBuilt)

  it("prints a histogram per round whose counts sum to routes x receiving nodes, and a --delay simulate accepts", async () => {
    const measured = await run(
      "npm",
      ["run", "--silent", "lab", "--", "measure", "--nodes", String(nodes), "--routes", String(routes)],
      { cwd: projectRoot, timeout: 120_000 }
    )
    const text = measured.stdout
    console.log(text)
    const perRound = routes * (nodes - 1)
    for (const heading of ["single claims", "burst"]) {
      const counts = bucketCounts(text, heading)
      assert.isAbove(counts.length, 0, `${heading}: no histogram lines`)
      assert.strictEqual(
        counts.reduce((sum, n) => sum + n, 0) + missingOf(text, heading),
        perRound,
        `${heading}: buckets + missing = ${routes} routes x ${nodes - 1} receiving nodes`
      )
    }
    const delay = /--delay (\S+)$/m.exec(text)?.[1]
    assert.isDefined(delay, text)
    assert.match(delay!, /^longtail:[\d.]+ms:[\d.]+ms$/)
    const simulated = await run(
      nodeBinary,
      [pluginFile, "simulate", "--nodes", String(nodes), "--per-node", "5", "--delay", delay!, "--check"],
      { timeout: 60_000 }
    )
    assert.include(simulated.stdout, "duplicates")
    // the negative control: simulate refuses a --delay it cannot read (exit 2), so acceptance above means something
    const refused = await run(nodeBinary, [pluginFile, "simulate", "--delay", "longtail:fast"]).then(
      () => 0,
      (error: { code?: number }) => error.code ?? -1
    )
    assert.strictEqual(refused, 2)
  })

  it("--json prints the report as before", async () => {
    const measured = await run(
      "npm",
      ["run", "--silent", "lab", "--", "measure", "--nodes", String(nodes), "--routes", "5", "--json"],
      { cwd: projectRoot, timeout: 120_000 }
    )
    const report = JSON.parse(measured.stdout) as Record<string, unknown>
    assert.deepStrictEqual(Object.keys(report), ["nodes", "family", "routes", "sequential", "burst"])
    assert.strictEqual(report.routes, 5)
  })
})
