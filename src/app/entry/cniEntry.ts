// CNI mode of the executable: cniMain on the real stdio and the production adapters (loaded only when CNI_COMMAND is set).
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as FdStdio from "../../adapters/FdStdio.ts"
import { cniMain } from "../plugin/CniMain.ts"
import { withFaultInjection } from "../plugin/FaultInjection.ts"
import { layer as pluginAdapters } from "../plugin/PluginAdapters.ts"

/**
 * Runs one CNI invocation and exits with its code. Effect's default logger and runMain's error
 * report both write to STDOUT, which must carry only the CNI JSON: logs go to stderr (or the
 * configured file), the report is disabled. Stdin and stdout are read and written with blocking
 * calls on their descriptors (FdStdio), which spares every call Node's stream and socket stack.
 */
export const runCni = (): void => {
  // TEST ONLY (test/e2e/crash.test.ts): SIGKILL ourselves at one step of ADD; see FaultInjection.ts.
  const faultPoint = process.env.RTIPAM_FAULT_INJECT
  const adapters =
    faultPoint === undefined || faultPoint === ""
      ? pluginAdapters
      : withFaultInjection(faultPoint, pluginAdapters)
  NodeRuntime.runMain(
    cniMain.pipe(
      Effect.provide(Layer.mergeAll(FdStdio.layer, adapters)),
      Effect.provideService(Logger.LogToStderr, true)
    ),
    { disableErrorReporting: true }
  )
}
