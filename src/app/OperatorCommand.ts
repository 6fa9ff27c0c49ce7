// The shape of an operator command (list, gc, simulate, demo): main loads it lazily by name.
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/** An operator command failed; `exitCode` is what the process exits with (usage errors: 2). */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly message: string
  readonly exitCode: number
}> {}

/**
 * One operator command of the `routetable-ipam` executable. Each lives in src/app/commands/NAME.ts
 * and exports `command: OperatorCommand`; main imports it only when invoked, so the CNI verbs
 * never pay for it. `run` handles its own `--help` (printing `usage` to stdout) and provides
 * every service it needs.
 */
export interface OperatorCommand {
  readonly name: string
  /** One line for `routetable-ipam --help`. */
  readonly summary: string
  /** The full `--help` text. */
  readonly usage: string
  readonly run: (args: ReadonlyArray<string>) => Effect.Effect<void, CommandFailed>
}
