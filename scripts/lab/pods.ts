// CLI for pod networks on the lab: `node scripts/lab/pods.ts demo|measure [--topology routed|overlay] [--ipam-json '[...]']`.
import * as path from "node:path"
import { parseArgs } from "node:util"
import { up } from "./Cluster.ts"
import { runClusterDemo } from "./ClusterDemo.ts"
import { measurePodNetwork } from "./PodMeasure.ts"
import { attachPodNetwork, type Topology } from "./PodNetwork.ts"

const usage = `Usage (as root; needs bird2, iputils-ping, containernetworking-plugins and npm run build):
  node scripts/lab/pods.ts demo [--topology routed|overlay]
      build a 3-node lab, start 2 pods per node through bridge + routetable-ipam, show addresses,
      each node's learned routes and a ping matrix, tear everything down
  node scripts/lab/pods.ts measure [--topology routed|overlay|both] [--samples 10]
      per topology: ADD time, first echo reply after ADD returns, claim propagation to the farthest node
Options:
  --ipam-json '["/path/node", "/path/dist/routetable-ipam"]'   how to run the IPAM (default: this node + dist/)`

const topologiesOf = (text: string | undefined, allowBoth: boolean): ReadonlyArray<Topology> => {
  if (text === "both" && allowBoth) return ["routed", "overlay"]
  if (text === undefined || text === "routed") return ["routed"]
  if (text === "overlay") return ["overlay"]
  throw new Error(`--topology: "${text}" is not routed, overlay${allowBoth ? " or both" : ""}`)
}

const ipamProgramOf = (json: string | undefined): ReadonlyArray<string> => {
  if (json === undefined)
    return [process.execPath, path.resolve(import.meta.dirname, "../../dist/routetable-ipam")]
  const parsed: unknown = JSON.parse(json)
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((part) => typeof part === "string")) {
    throw new Error("--ipam-json: expected a JSON array of strings (the command that runs the IPAM)")
  }
  return parsed
}

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      topology: { type: "string" },
      samples: { type: "string", default: "10" },
      "ipam-json": { type: "string" },
      help: { type: "boolean" }
    }
  })
  const [verb] = positionals
  const ipamProgram = ipamProgramOf(values["ipam-json"])
  if (verb === "demo") {
    const [topology] = topologiesOf(values.topology, false)
    const reached = await runClusterDemo({
      ipamProgram,
      topology: topology!,
      print: (line) => console.log(line)
    })
    return reached ? 0 : 1
  }
  if (verb === "measure") {
    const samples = Number(values.samples)
    if (!Number.isInteger(samples) || samples < 1)
      throw new Error(`--samples: ${values.samples} is not a count`)
    for (const topology of topologiesOf(values.topology, true)) {
      const lab = await up({ nodes: 3 })
      try {
        const network = await attachPodNetwork(lab, { topology, ipamProgram })
        await Promise.all(lab.nodes.map((_, index) => network.addPod(index)))
        console.log(JSON.stringify(await measurePodNetwork(network, samples), null, 2))
      } finally {
        await lab.down()
      }
    }
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
    console.error(`pods: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  }
)
