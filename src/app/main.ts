// The single executable: the CNI plugin when CNI_COMMAND is set, otherwise the operator commands.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { runOperator } from "./commands/index.ts"
import { cniMain } from "./plugin/CniMain.ts"
import { withFaultInjection } from "./plugin/FaultInjection.ts"
import { layer as pluginAdapters } from "./plugin/PluginAdapters.ts"

// Effect's default logger and runMain's error report both write to STDOUT, which must carry only
// the CNI JSON: logs go to stderr (or the configured file), the report is disabled.
if (process.env.CNI_COMMAND !== undefined) {
  // TEST ONLY (test/e2e/crash.test.ts): SIGKILL ourselves at one step of ADD; see FaultInjection.ts.
  const faultPoint = process.env.RTIPAM_FAULT_INJECT
  const adapters =
    faultPoint === undefined || faultPoint === ""
      ? pluginAdapters
      : withFaultInjection(faultPoint, pluginAdapters)
  NodeRuntime.runMain(
    cniMain.pipe(
      Effect.provide(Layer.mergeAll(NodeStdio.layer, adapters)),
      Effect.provideService(Logger.LogToStderr, true)
    ),
    { disableErrorReporting: true }
  )
} else {
  NodeRuntime.runMain(
    runOperator(process.argv.slice(2)).pipe(Effect.provideService(Logger.LogToStderr, true)),
    {
      disableErrorReporting: true
    }
  )
}
