// Runs the CNI core in-process: env through a ConfigProvider, stdin/stdout through a test Stdio, memory ports.
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Sink from "effect/Sink"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { cniMain } from "../../../src/app/plugin/CniMain.ts"
import { type MemoryNode, PluginAdapters } from "../../../src/app/plugin/PluginAdapters.ts"

/** What one invocation printed and how it ended. */
export interface CniOutcome {
  /** Everything written to stdout. */
  readonly stdout: string
  /** The process exit status runMain would use (0 on success). */
  readonly status: number
}

/** Env of a normal ADD/DEL/CHECK; override or remove (undefined) keys per test. */
export const baseEnv = (command: string, containerId = "c1"): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: containerId,
  CNI_NETNS: "/var/run/netns/test",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin"
})

/** Run cniMain once against `node` (no clock handling: use `runCni` under it.effect). */
export const invoke = (
  node: MemoryNode,
  env: Record<string, string | undefined>,
  stdin: string | Uint8Array = ""
): Effect.Effect<CniOutcome> =>
  Effect.gen(function* () {
    const out: Array<string> = []
    const decoder = new TextDecoder()
    const bytes = typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin
    const stdio = Stdio.layerTest({
      stdin: bytes.length === 0 ? Stream.empty : Stream.make(bytes),
      stdout: () =>
        // biome-ignore lint/suspicious/useIterableCallbackReturn: Sink.forEach runs the returned effect per chunk
        Sink.forEach((chunk: string | Uint8Array) =>
          Effect.sync(() => {
            out.push(typeof chunk === "string" ? chunk : decoder.decode(chunk))
          })
        )
    })
    const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined))
    const exit = yield* cniMain.pipe(
      Effect.provide(
        Layer.mergeAll(
          stdio,
          Layer.succeed(PluginAdapters, node.adapters),
          ConfigProvider.layer(ConfigProvider.fromUnknown(defined))
        )
      ),
      Effect.exit
    )
    const status = Exit.isSuccess(exit) ? 0 : Runtime.getErrorExitCode(Cause.squash(exit.cause))
    return { stdout: out.join(""), status }
  })

/** Run cniMain under TestClock: fork, let virtual time run past every propagation wait, join. */
export const runCni = (
  node: MemoryNode,
  env: Record<string, string | undefined>,
  stdin: string | Uint8Array = ""
): Effect.Effect<CniOutcome> =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(invoke(node, env, stdin))
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

/** Run many invocations at once under TestClock (all forked before the clock moves). */
export const runConcurrently = (
  node: MemoryNode,
  calls: ReadonlyArray<{ readonly env: Record<string, string | undefined>; readonly stdin: string }>
): Effect.Effect<ReadonlyArray<CniOutcome>> =>
  Effect.gen(function* () {
    const fibers = yield* Effect.forEach(calls, (call) =>
      Effect.forkChild(invoke(node, call.env, call.stdin))
    )
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.joinAll(fibers)
  })

/** stdout must hold exactly one JSON document (one line); returns it parsed. */
export const singleJson = (stdout: string): Record<string, unknown> => {
  const lines = stdout.split("\n").filter((l) => l !== "")
  if (lines.length !== 1)
    throw new Error(`expected exactly one JSON line on stdout, got ${JSON.stringify(stdout)}`)
  const value: unknown = JSON.parse(lines[0]!)
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`not an object: ${lines[0]}`)
  return value as Record<string, unknown>
}

/** A network config with `ipam` merged over a small IPv4 range (propagation 50 ms). */
export const netConf = (
  cniVersion: string,
  ipam: Record<string, unknown> = {},
  extra: Record<string, unknown> = {}
): string =>
  JSON.stringify({
    cniVersion,
    name: "pods",
    type: "bridge",
    ipam: {
      type: "routetable-ipam",
      ranges: [[{ subnet: "100.64.0.0/24", gateway: "100.64.0.1" }]],
      propagationTimeout: 50,
      ...ipam
    },
    ...extra
  })
