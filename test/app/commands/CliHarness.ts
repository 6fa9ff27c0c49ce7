// Runs the operator command line (effect/cli) in-process: the real flag definitions, stdout/stderr through TestConsole.
import * as NodeServices from "@effect/platform-node/NodeServices"
import { type CliError, Command } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { TestConsole } from "effect/testing"
import { runOperator } from "../../../src/app/commands/index.ts"

/**
 * Parse `args` with a command's real flags and return what its handler would receive (the handler
 * itself does not run). Fails with the CliError effect/cli reports (ShowHelp carries parse errors).
 */
export const parseWith = <const Config extends Command.Command.Config>(
  config: Config,
  args: ReadonlyArray<string>
): Effect.Effect<Command.Command.Config.Infer<Config>, CliError.CliError> =>
  Effect.gen(function* () {
    let parsed: Command.Command.Config.Infer<Config> | undefined
    const probe = Command.make("probe", config, (input) =>
      Effect.sync(() => {
        parsed = input
      })
    )
    yield* Command.runWith(probe, { version: "test" })(args).pipe(
      Effect.mapError((e) => e as CliError.CliError),
      Effect.provide(NodeServices.layer)
    )
    if (parsed === undefined) return yield* Effect.die("the handler did not run")
    return parsed
  })

/** The messages of the parse errors of a failed parseWith. */
export const parseErrorsOf = (error: CliError.CliError): string =>
  error._tag === "ShowHelp" ? error.errors.map((e) => e.message).join("\n") : error.message

/** Run `routetable-ipam ARGS...` in-process: exit code (0, or OperatorExit's), stdout and stderr lines. */
export const runCli = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(runOperator(args).pipe(Effect.provide(NodeServices.layer)))
    const code = Exit.isSuccess(exit)
      ? 0
      : (() => {
          const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
          const error = failure?._tag === "Fail" ? failure.error : undefined
          return typeof error === "object" && error !== null && "code" in error ? Number(error.code) : -1
        })()
    const stdout = (yield* TestConsole.logLines).map(String).join("\n")
    const stderr = (yield* TestConsole.errorLines).map(String).join("\n")
    return { code, stdout, stderr }
  })
