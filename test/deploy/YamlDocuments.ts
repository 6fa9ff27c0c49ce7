// Reads multi-document YAML for the deploy tests: the `yaml` package when installed, else python3's PyYAML.
import { spawnSync } from "node:child_process"

/** Parses every document of a YAML text; throws on a syntax error. */
export type YamlParser = (text: string) => ReadonlyArray<unknown>

interface YamlModule {
  readonly parseAllDocuments: (text: string) => ReadonlyArray<{
    readonly errors: ReadonlyArray<{ readonly message: string }>
    readonly toJS: () => unknown
  }>
}

const fromPackage = async (): Promise<YamlParser | undefined> => {
  // a variable specifier: the module is optional until it is a devDependency
  const specifier = "yaml"
  let module: YamlModule
  try {
    module = (await import(specifier)) as YamlModule
  } catch {
    return undefined
  }
  return (text) =>
    module.parseAllDocuments(text).map((document) => {
      if (document.errors.length > 0) throw new Error(document.errors.map((e) => e.message).join("; "))
      return document.toJS()
    })
}

const pythonProgram = "import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)"

const fromPython = (): YamlParser | undefined => {
  const probe = spawnSync("python3", ["-c", "import yaml"], { stdio: "ignore" })
  if (probe.status !== 0) return undefined
  return (text) => {
    const run = spawnSync("python3", ["-c", pythonProgram], { input: text, encoding: "utf8" })
    if (run.status !== 0) throw new Error(`YAML: ${run.stderr.trim()}`)
    return JSON.parse(run.stdout) as ReadonlyArray<unknown>
  }
}

/** A YAML parser and where it comes from, or why there is none. */
export const findYamlParser = async (): Promise<
  { readonly parse: YamlParser; readonly source: string } | { readonly missing: string }
> => {
  const parse = (await fromPackage()) ?? undefined
  if (parse !== undefined) return { parse, source: "the yaml package" }
  const python = fromPython()
  if (python !== undefined) return { parse: python, source: "python3 PyYAML" }
  return { missing: "no YAML parser: add the devDependency yaml@2 (or install python3-yaml)" }
}
