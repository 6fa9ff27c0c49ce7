// What an operator command fails with, and the function form of a command (demo.ts's `run`, simulate run from demo).
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/** An operator command failed; `exitCode` is what the process exits with (usage errors: 2). */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly message: string
  readonly exitCode: number
}> {}

/**
 * A command as a function of its arguments. The command line itself is effect/cli
 * (src/app/commands/index.ts); this form remains for demo.ts, which parses its own arguments
 * (demoCommand.ts hands them back) and runs `simulate` this way. `run` provides every service
 * it needs.
 */
export interface OperatorCommand {
  readonly name: string
  /** One line for `routetable-ipam --help`. */
  readonly summary: string
  /** The full `--help` text. */
  readonly usage: string
  readonly run: (args: ReadonlyArray<string>) => Effect.Effect<void, CommandFailed>
}
