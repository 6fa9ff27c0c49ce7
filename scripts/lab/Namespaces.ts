// Names and lifecycle of one lab run's network namespaces: "<prefix>sw" (the switch), "<prefix>n<N>", "<prefix>p<N>".
import { randomBytes } from "node:crypto"
import { run, runChecked } from "./Command.ts"

/** A lab run's prefix: "rtl" + 4 hex digits + "-", e.g. "rtl3f9a-". Nothing else is ever deleted. */
export const prefixPattern = /^rtl[0-9a-f]{4}-$/

/** A fresh random prefix (the caller checks it is unused). */
export const randomPrefix = (): string => `rtl${randomBytes(2).toString("hex")}-`

/** The switch namespace of a run. */
export const switchName = (prefix: string): string => `${prefix}sw`

/** The namespace of node `number` (1-based). */
export const nodeName = (prefix: string, number: number): string => `${prefix}n${number}`

/** The namespace of pod `number` (1-based, unique within the run; scripts/lab/PodNetwork.ts). */
export const podName = (prefix: string, number: number): string => `${prefix}p${number}`

/** Whether a namespace name belongs to the run with this prefix: its switch, a node or a pod. */
export const belongsTo = (prefix: string, name: string): boolean =>
  name === switchName(prefix) ||
  ((name.startsWith(`${prefix}n`) || name.startsWith(`${prefix}p`)) &&
    /^\d+$/.test(name.slice(prefix.length + 1)))

/** Every named network namespace on this machine (`ip netns list`). */
export const listNamespaces = async (): Promise<ReadonlyArray<string>> =>
  (await runChecked("ip", ["netns", "list"]))
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name !== "")

/** The namespaces of one run that exist now. */
export const namespacesOf = async (prefix: string): Promise<ReadonlyArray<string>> =>
  (await listNamespaces()).filter((name) => belongsTo(prefix, name))

/** Prefixes of every lab run that has a namespace left. */
export const runsPresent = async (): Promise<ReadonlyArray<string>> => {
  const prefixes = (await listNamespaces())
    .map((name) => name.match(/^(rtl[0-9a-f]{4}-)(sw|n\d+|p\d+)$/)?.[1])
    .filter((prefix): prefix is string => prefix !== undefined)
  return [...new Set(prefixes)]
}

/** PIDs of the processes whose network namespace is `name` (`ip netns pids`). */
export const pidsIn = async (name: string): Promise<ReadonlyArray<number>> => {
  const result = await run("ip", ["netns", "pids", name])
  return result.stdout
    .split("\n")
    .filter((line) => /^\d+$/.test(line))
    .map(Number)
}

/** Create a namespace with its loopback up. */
export const addNamespace = async (name: string): Promise<void> => {
  await runChecked("ip", ["netns", "add", name])
  await runChecked("ip", ["-n", name, "link", "set", "lo", "up"])
}

/** Delete a namespace; one that is already gone is fine. */
export const deleteNamespace = async (name: string): Promise<void> => {
  const result = await run("ip", ["netns", "delete", name])
  if (result.code !== 0 && (await listNamespaces()).includes(name)) {
    throw new Error(`ip netns delete ${name}: ${result.stderr.trim()}`)
  }
}
