// The shell scripts the shipped DaemonSet runs (from its ConfigMap), run here as the pod would run them.
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { run } from "../../../scripts/lab/Command.ts"
import type { CommandResult } from "../../support/Lab.ts"
import { parseYamlDocuments } from "../../deploy/YamlDocuments.ts"
import { projectRoot } from "./BuiltPlugin.ts"

/** deploy/kubernetes/daemonset.yaml's ConfigMap entry `key` (e.g. "bird-prestop.sh"). */
export const configMapScript = (key: string): string => {
  const file = path.join(projectRoot, "deploy/kubernetes/daemonset.yaml")
  for (const document of parseYamlDocuments(readFileSync(file, "utf8"))) {
    const doc = document as { readonly kind?: string; readonly data?: Record<string, string> }
    const script = doc.kind === "ConfigMap" ? doc.data?.[key] : undefined
    if (script !== undefined) return script
  }
  throw new Error(`no ConfigMap entry ${key} in ${file}`)
}

/** Run a ConfigMap script with `sh` (stdin), `socket` as its BIRD_SOCKET, as the bird container would. */
export const runConfigMapScript = (key: string, socket: string): Promise<CommandResult> =>
  run("sh", ["-s"], { stdin: configMapScript(key), env: { BIRD_SOCKET: socket }, timeoutMs: 30_000 })
