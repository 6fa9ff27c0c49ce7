// `npm run daemonset:bird`: writes the DaemonSet's BIRD configuration (ConfigMap bird.conf, bird-reflector.conf) from deploy/bird/bird.conf.
import * as fs from "node:fs"
import * as path from "node:path"
import { type DaemonSetBirdOptions, renderDaemonSetBird } from "../deploy/bird/render.ts"
import { projectRoot } from "./build.ts"

/** The manifest whose ConfigMap holds the generated entries. */
export const daemonSetManifest = path.join(projectRoot, "deploy/kubernetes/daemonset.yaml")

/**
 * The pod ranges BIRD carries: both ranges of the dual-stack conflist the project ships
 * (deploy/cni/bridge-dualstack.conflist), whose IPv4 range is the shipped IPv4 conflist's.
 */
const dualStackConflist = path.join(projectRoot, "deploy/cni/bridge-dualstack.conflist")

/** The cluster-wide settings the shipped DaemonSet's BIRD configuration is generated with. */
export const shippedBirdOptions = (): DaemonSetBirdOptions => {
  const conflist = JSON.parse(fs.readFileSync(dualStackConflist, "utf8")) as {
    readonly plugins: ReadonlyArray<{
      readonly ipam?: {
        readonly ranges: ReadonlyArray<ReadonlyArray<{ readonly subnet: string }>>
        readonly routeProtocol?: number
      }
    }>
  }
  const ipam = conflist.plugins.find((plugin) => plugin.ipam !== undefined)?.ipam
  if (ipam === undefined) throw new Error(`${dualStackConflist}: no ipam section`)
  const subnets = ipam.ranges.flat().map((range) => range.subnet)
  return {
    podPrefixes4: subnets.filter((subnet) => !subnet.includes(":")),
    podPrefixes6: subnets.filter((subnet) => subnet.includes(":")),
    ...(ipam.routeProtocol === undefined ? {} : { routeProtocol: ipam.routeProtocol })
  }
}

/** The ConfigMap entries this script owns, as the generator renders them. */
export const generatedEntries = (options = shippedBirdOptions()): Readonly<Record<string, string>> => {
  const { config, reflector } = renderDaemonSetBird(options)
  return { "bird.conf": config, "bird-reflector.conf": reflector }
}

/**
 * `manifest` with the block scalar of ConfigMap key `key` (`  key: |`, its lines indented by four
 * spaces) replaced by `value`. Throws when the key is not there exactly once.
 */
export const replaceBlock = (manifest: string, key: string, value: string): string => {
  const lines = manifest.split("\n")
  const header = `  ${key}: |`
  const start = lines.indexOf(header)
  if (start === -1 || lines.indexOf(header, start + 1) !== -1)
    throw new Error(`expected exactly one "${header}" in the manifest`)
  let end = start + 1
  while (end < lines.length && (lines[end] === "" || lines[end]?.startsWith("    "))) end++
  // blank lines before the next key belong to no block
  while (end > start + 1 && lines[end - 1] === "") end--
  const body = value
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => (line === "" ? "" : `    ${line}`))
  return [...lines.slice(0, start + 1), ...body, ...lines.slice(end)].join("\n")
}

/** The manifest with every generated entry up to date. */
export const withGeneratedEntries = (manifest: string): string =>
  Object.entries(generatedEntries()).reduce((text, [key, value]) => replaceBlock(text, key, value), manifest)

if (process.argv[1] === import.meta.filename) {
  const check = process.argv.includes("--check")
  const current = fs.readFileSync(daemonSetManifest, "utf8")
  const generated = withGeneratedEntries(current)
  if (check) {
    if (generated !== current) {
      console.error(`${daemonSetManifest} is out of date: run npm run daemonset:bird`)
      process.exitCode = 1
    }
  } else if (generated !== current) {
    fs.writeFileSync(daemonSetManifest, generated)
    console.log(`updated ${path.relative(projectRoot, daemonSetManifest)}`)
  }
}
