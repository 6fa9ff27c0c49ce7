// Experiment entry for bench/stackFloor.ts: the least an Effect CNI plugin does: runMain, stdin through NodeStdio, one Schema decode, JSON on stdout.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"

const Config = Schema.Struct({
  cniVersion: Schema.String,
  name: Schema.String,
  ipam: Schema.Struct({ type: Schema.String, propagationTimeout: Schema.String, dataDir: Schema.String })
})

NodeRuntime.runMain(
  Effect.gen(function* () {
    const stdio = yield* Stdio.Stdio
    const text = yield* stdio.stdin.pipe(Stream.decodeText(), Stream.mkString)
    const config = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(Config))(text)
    const result = JSON.stringify({ cniVersion: config.cniVersion, ips: [{ address: "100.64.0.1/32" }] })
    yield* Stream.make(`${result}\n`).pipe(Stream.encodeText, Stream.run(stdio.stdout()))
  }).pipe(Effect.provide(NodeStdio.layer)),
  { disableErrorReporting: true }
)
