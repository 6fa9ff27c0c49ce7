// Operator mode of the executable (no CNI_COMMAND): the effect/cli command line of src/app/commands, logs on stderr.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { runOperator } from "../commands/index.ts"

/** Runs the operator command named in `argv` (e.g. `list`, `gc`, `demo`) and exits with its code. */
export const runOperatorCommand = (argv: ReadonlyArray<string>): void => {
  NodeRuntime.runMain(
    runOperator(argv).pipe(
      Effect.provide(NodeServices.layer),
      Effect.provideService(Logger.LogToStderr, true)
    ),
    { disableErrorReporting: true }
  )
}
