// The operator command line (effect/cli): every command, generated --help, --version with the commit, completions.
import { Argument, CliError, Command, Completions } from "effect/cli"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { versionText } from "../BuildInfo.ts"
import { CommandFailed } from "../OperatorCommand.ts"
import { demoCommand } from "./demoCommand.ts"
import { gcCommand } from "./gc.ts"
import { installCommand } from "./install.ts"
import { listCommand } from "./list.ts"
import { migrateCommand } from "./migrate.ts"
import { releaseCommand } from "./release.ts"
import { simulateCommand } from "./simulate.ts"

/** The executable's name, as help, errors and completion scripts show it. */
export const executableName = "routetable-ipam"

/** `routetable-ipam completions SHELL`: a completion script for bash, zsh, fish or powershell. */
const completionsCommand = Command.make(
  "completions",
  { shell: Argument.Literals("shell", ["bash", "zsh", "fish", "powershell"]) },
  ({ shell }) =>
    Console.log(Completions.generate(executableName, shell, Completions.fromCommand(commandLine())))
).pipe(
  Command.withDescription(
    `Print a shell completion script. bash: \`source <(${executableName} completions bash)\`, or save it under /etc/bash_completion.d/.`
  ),
  Command.withShortDescription("print a shell completion script (bash, zsh, fish, powershell)")
)

/**
 * Every operator command. Adding one = a Command in src/app/commands/NAME.ts + one entry here.
 * The whole tree is loaded only in operator mode: main.ts imports operatorEntry.ts lazily, so the
 * CNI verbs and VERSION never load effect/cli.
 */
export const operatorCommandLine = Command.make(executableName).pipe(
  Command.withDescription(
    "CNI IPAM plugin that stores every address as a host route. As a CNI plugin the container runtime runs it with CNI_COMMAND set (ADD, DEL, CHECK, GC, STATUS, VERSION); without CNI_COMMAND it runs these operator commands. `routetable-ipam COMMAND --help` describes one."
  ),
  Command.withSubcommands([
    listCommand,
    gcCommand,
    releaseCommand,
    migrateCommand,
    installCommand,
    simulateCommand,
    demoCommand,
    completionsCommand
  ])
)

/** The whole tree, for the completion script (typed, to break the reference cycle). */
function commandLine(): Command.Command.Any {
  return operatorCommandLine
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

/**
 * Operator mode: parse `argv` (without node and script) and run the command it names. effect/cli
 * prints help (stdout) and parse errors (stderr); a command's own failure is printed here as
 * `routetable-ipam NAME: message`. Exit status: the command's code; 2 for a usage error.
 */
export const runOperator = (argv: ReadonlyArray<string>) =>
  Command.runWith(operatorCommandLine, { version: versionText })(argv).pipe(
    Effect.catch((error) => {
      if (error instanceof CommandFailed) {
        const name = argv.find((arg) => !arg.startsWith("-")) ?? executableName
        return Console.error(`${executableName} ${name}: ${error.message}`).pipe(
          Effect.andThen(Effect.fail(new OperatorExit({ code: error.exitCode })))
        )
      }
      if (CliError.isCliError(error)) {
        // already printed (help on stdout, the error on stderr) by effect/cli
        const asked = error._tag === "ShowHelp" && error.errors.length === 0
        return Effect.fail(new OperatorExit({ code: asked ? 0 : 2 }))
      }
      return Effect.fail(error)
    })
  )
