// CLI for the lab: `node scripts/lab.ts up [--nodes N] [--no-v6]`, `down PREFIX`, `list`, `measure`.
import { parseArgs } from "node:util"
import { describe, down, up } from "./lab/Cluster.ts"
import { runsPresent } from "./lab/Namespaces.ts"
import { formatMeasurement } from "./lab/DelayHistogram.ts"
import { measurePropagationSamples } from "./lab/Propagation.ts"

const usage = `Usage (as root):
  node scripts/lab.ts up [--nodes 3] [--no-v6]   build a lab, print its prefix, leave it running
  node scripts/lab.ts down PREFIX                 tear down the lab with this prefix (e.g. rtl3f9a-)
  node scripts/lab.ts down --all                  tear down every lab (every rtl<4 hex>- namespace)
  node scripts/lab.ts list                        show the labs present
  node scripts/lab.ts measure [--nodes 3] [--routes 50] [--family 4] [--json]
                                                  build a lab, measure claim propagation, tear down;
                                                  prints delay histograms and a --delay for simulate
                                                  (--json: the report as JSON instead)`

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      nodes: { type: "string", default: "3" },
      "no-v6": { type: "boolean" },
      all: { type: "boolean" },
      routes: { type: "string", default: "50" },
      family: { type: "string", default: "4" },
      json: { type: "boolean" },
      help: { type: "boolean" }
    }
  })
  const [verb, ...rest] = positionals
  if (verb === "up") {
    const lab = await up({ nodes: Number(values.nodes), v6: values["no-v6"] !== true })
    console.log(`lab ${lab.prefix} is up (files in ${lab.dir})`)
    for (const node of lab.nodes) {
      console.log(
        `  ${node.name}  netns ${node.netns}  ${node.address}${node.address6 === undefined ? "" : `  ${node.address6}`}  birdc -s ${node.birdSocket}`
      )
    }
    console.log(`tear down with: node scripts/lab.ts down ${lab.prefix}`)
    return 0
  }
  if (verb === "down") {
    const prefixes = values.all === true ? await runsPresent() : rest
    if (prefixes.length === 0) {
      console.error(values.all === true ? "no lab present" : usage)
      return values.all === true ? 0 : 2
    }
    for (const prefix of prefixes) {
      await down(prefix)
      console.log(`lab ${prefix} is down`)
    }
    return 0
  }
  if (verb === "measure") {
    const lab = await up({ nodes: Number(values.nodes), v6: values["no-v6"] !== true })
    try {
      const family = values.family === "6" ? 6 : 4
      const measured = await measurePropagationSamples(lab, { routes: Number(values.routes), family })
      console.log(
        values.json === true ? JSON.stringify(measured.report, null, 2) : formatMeasurement(measured)
      )
    } finally {
      await lab.down()
    }
    return 0
  }
  if (verb === "list") {
    for (const prefix of await runsPresent()) console.log(prefix, JSON.stringify(describe(prefix) ?? {}))
    return 0
  }
  console.log(usage)
  return values.help === true ? 0 : 2
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`lab: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  }
)
