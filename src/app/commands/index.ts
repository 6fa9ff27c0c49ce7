// The operator commands by name, each loaded only when invoked (the CNI verbs never pay for them).
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type { OperatorCommand } from "../OperatorCommand.ts"
import { pluginVersion } from "../plugin/PluginVersion.ts"

/** A module under src/app/commands exporting `command`. */
export interface OperatorCommandModule {
  readonly command: OperatorCommand
}

/**
 * Gotcha: the specifier is a template on purpose. A module that is not written yet is then a
 * runtime "not available" instead of a type error, and esbuild still bundles every
 * src/app/commands/*.ts it matches.
 */
const moduleLoader = (file: string) => (): Promise<OperatorCommandModule> => import(`./${file}.ts`)

/** Name -> loader. Adding a command = a file src/app/commands/NAME.ts + one line here. */
export const operatorCommands: Readonly<Record<string, () => Promise<OperatorCommandModule>>> = {
  list: moduleLoader("list"),
  gc: moduleLoader("gc"),
  simulate: moduleLoader("simulate"),
  demo: moduleLoader("demo")
}

/** Why a command could not be loaded: not registered, or its module is missing or broken. */
export type LoadFailure =
  | { readonly _tag: "Unknown"; readonly name: string }
  | { readonly _tag: "Unavailable"; readonly name: string; readonly reason: string }

/** Load one command by name. */
export const loadCommand = async (name: string): Promise<OperatorCommand | LoadFailure> => {
  const load = Object.hasOwn(operatorCommands, name) ? operatorCommands[name] : undefined
  if (load === undefined) return { _tag: "Unknown", name }
  try {
    const module = await load()
    if (typeof module?.command?.run !== "function") {
      return { _tag: "Unavailable", name, reason: "its module exports no `command`" }
    }
    return module.command
  } catch (cause) {
    return { _tag: "Unavailable", name, reason: cause instanceof Error ? cause.message : String(cause) }
  }
}

/** The process ends with `code` (runMain exits with it and prints nothing more). */
export class OperatorExit extends Data.TaggedError("OperatorExit")<{ readonly code: number }> {
  override get [Runtime.errorExitCode](): number {
    return this.code
  }
  override get [Runtime.errorReported](): boolean {
    return false
  }
}

const print = (stream: NodeJS.WriteStream, text: string) => Effect.sync(() => void stream.write(`${text}\n`))

/** `routetable-ipam --help`: every registered command with its summary (or why it is unavailable). */
export const helpText: Effect.Effect<string> = Effect.promise(async () => {
  const lines = [
    `routetable-ipam ${pluginVersion}: CNI IPAM plugin that stores every address as a host route.`,
    "",
    "As a CNI plugin it is run by the container runtime with CNI_COMMAND set (ADD, DEL, CHECK, GC, STATUS, VERSION).",
    "Operator commands:",
    ""
  ]
  for (const name of Object.keys(operatorCommands)) {
    const command = await loadCommand(name)
    const summary = "_tag" in command ? "(not available in this build)" : command.summary
    lines.push(`  ${name.padEnd(10)} ${summary}`)
  }
  lines.push("", "Options: --help, --version. `routetable-ipam COMMAND --help` describes one command.")
  return lines.join("\n")
})

/**
 * Operator mode: argv (without node and script) names a command; `--help` lists them, `--version`
 * prints the version. Unknown command: usage on stderr, exit 2; unavailable module: exit 1.
 */
export const runOperator = (argv: ReadonlyArray<string>): Effect.Effect<void, OperatorExit> =>
  Effect.gen(function* () {
    const [name, ...rest] = argv
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      return yield* print(process.stdout, yield* helpText)
    }
    if (name === "--version" || name === "-V") return yield* print(process.stdout, pluginVersion)
    const command = yield* Effect.promise(() => loadCommand(name))
    if ("_tag" in command) {
      if (command._tag === "Unknown") {
        yield* print(
          process.stderr,
          `routetable-ipam: unknown command ${JSON.stringify(name)}\n\n${yield* helpText}`
        )
        return yield* new OperatorExit({ code: 2 })
      }
      yield* print(process.stderr, `routetable-ipam: command ${name} is not available: ${command.reason}`)
      return yield* new OperatorExit({ code: 1 })
    }
    yield* command
      .run(rest)
      .pipe(
        Effect.catchTag("CommandFailed", (e) =>
          print(process.stderr, `routetable-ipam ${name}: ${e.message}`).pipe(
            Effect.andThen(Effect.fail(new OperatorExit({ code: e.exitCode })))
          )
        )
      )
  })
