// Experiment entry for bench/stackFloor.ts: the whole CNI core (config decode, claim protocol, result) on the memory adapters: no kernel, no files, no lock.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { cniMain } from "../src/app/plugin/CniMain.ts"
import { makeMemoryNode, PluginAdapters } from "../src/app/plugin/PluginAdapters.ts"

// As src/app/entry/cniEntry.ts, with a fresh memory node in place of the production adapters.
NodeRuntime.runMain(
  Effect.flatMap(makeMemoryNode(), (node) =>
    cniMain.pipe(
      Effect.provide(Layer.mergeAll(NodeStdio.layer, Layer.succeed(PluginAdapters, node.adapters))),
      Effect.provideService(Logger.LogToStderr, true)
    )
  ),
  { disableErrorReporting: true }
)
