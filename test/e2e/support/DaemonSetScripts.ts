// The shell scripts the shipped DaemonSet runs (from its ConfigMap), run here as the pod would run them.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { run } from "../../../scripts/lab/Command.ts"
import type { CommandResult } from "../../support/Lab.ts"
import { parseYamlDocuments } from "../../deploy/YamlDocuments.ts"
import { projectRoot } from "./BuiltPlugin.ts"

/** deploy/kubernetes/daemonset.yaml's ConfigMap data: every entry by key. */
export const configMapData = (): Readonly<Record<string, string>> => {
  const file = path.join(projectRoot, "deploy/kubernetes/daemonset.yaml")
  for (const document of parseYamlDocuments(readFileSync(file, "utf8"))) {
    const doc = document as { readonly kind?: string; readonly data?: Record<string, string> }
    if (doc.kind === "ConfigMap" && doc.data !== undefined) return doc.data
  }
  throw new Error(`no ConfigMap data in ${file}`)
}

/** deploy/kubernetes/daemonset.yaml's ConfigMap entry `key` (e.g. "bird-prestop.sh"). */
export const configMapScript = (key: string): string => {
  const script = configMapData()[key]
  if (script === undefined) throw new Error(`no ConfigMap entry ${key} in the DaemonSet`)
  return script
}

/** Writes every ConfigMap entry as a file of `dir`, as the ConfigMap volume mounts them at /config. */
export const writeConfigMap = (dir: string): string => {
  mkdirSync(dir, { recursive: true })
  for (const [key, value] of Object.entries(configMapData())) writeFileSync(path.join(dir, key), value)
  return dir
}

/**
 * Run a ConfigMap script with `sh` (stdin), `socket` as its BIRD_SOCKET, as the bird container would;
 * `env` adds to that (e.g. BIRD_CONFIG, the rendered configuration's path).
 */
export const runConfigMapScript = (
  key: string,
  socket: string,
  env: Readonly<Record<string, string>> = {}
): Promise<CommandResult> =>
  run("sh", ["-s"], {
    stdin: configMapScript(key),
    env: { BIRD_SOCKET: socket, ...env },
    timeoutMs: 30_000
  })
