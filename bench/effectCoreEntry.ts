// Experiment entry for bench/stackFloor.ts: Effect's core alone: one Schema decode of stdin (read with fs) in Effect.runSync, JSON out, no platform package.
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const Config = Schema.Struct({
  cniVersion: Schema.String,
  name: Schema.String,
  ipam: Schema.Struct({ type: Schema.String, propagationTimeout: Schema.String, dataDir: Schema.String })
})

const result = Effect.runSync(
  Effect.gen(function* () {
    const config = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(Config))(
      fs.readFileSync(0, "utf8")
    )
    return JSON.stringify({ cniVersion: config.cniVersion, ips: [{ address: "100.64.0.1/32" }] })
  })
)
fs.writeSync(1, `${result}\n`)
