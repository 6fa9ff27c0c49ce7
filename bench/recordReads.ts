// `node bench/recordReads.ts`: what reading one network's records (readHoldings) costs a fresh process, and where a warm one spends it per record.
// BEFORE_SRC=<dir> (a copy of an older src/ inside this checkout, e.g. .tmp/before-src) adds its store to the same interleaved run.
// RECORDS (default 64), TEMPS (temporary files of writers mid-write, default 3), RUNS (fresh processes per form, default 15).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as EffectModule from "effect/Effect"
import type * as StoreModule from "../src/adapters/FileAttachments.ts"
import type * as AttachmentsModule from "../src/domain/Attachments.ts"
import type * as IpModule from "../src/domain/Ip.ts"
import type * as OwnershipModule from "../src/domain/Ownership.ts"
import { median } from "./MeasuredProcess.ts"

const network = "burst"
const warmNetwork = "warm"

/** The store, the release rule's reader and the helpers, from the `src` directory given. */
const load = async (src: string) => ({
  Effect: (await import("effect/Effect")) as typeof EffectModule,
  store: (await import(path.join(src, "adapters/FileAttachments.ts"))) as typeof StoreModule,
  attachments: (await import(path.join(src, "domain/Attachments.ts"))) as typeof AttachmentsModule,
  ip: (await import(path.join(src, "domain/Ip.ts"))) as typeof IpModule,
  ownership: (await import(path.join(src, "domain/Ownership.ts"))) as typeof OwnershipModule
})

const cpuMicros = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since)
  return used.user + used.system
}

/**
 * Child: one readHoldings of a 1-record network first (the code a CNI call has compiled by then:
 * its own record was read), then the measured calls on the full network, as one ADD or DEL makes them.
 */
const child = async (src: string, dataDir: string) => {
  const { Effect, store, attachments, ownership } = await load(src)
  const files = store.make(dataDir)
  const read = (name: string) =>
    Effect.runPromise(
      ownership.readHoldings(name).pipe(Effect.provideService(attachments.Attachments, files))
    )
  await read(warmNetwork)
  let start = process.cpuUsage()
  const held = await read(network)
  const first = cpuMicros(start)
  start = process.cpuUsage()
  await read(network)
  const second = cpuMicros(start)
  console.log(JSON.stringify({ first, second, live: held.live.length }))
}

/** Records like the plugin's (64-hex container IDs, one address, a boot, a pod). */
const makeDataDir = async (src: string, count: number, temps: number): Promise<string> => {
  const { Effect, store, ip } = await load(src)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-records-"))
  const files = store.make(dataDir)
  const boot = await Effect.runPromise(files.boot)
  const recordOf = (net: string, i: number) => ({
    network: net,
    containerId: (i * 2654435761).toString(16).padStart(64, "0"),
    ifname: "eth0",
    addresses: [ip.ip(4, 0x64400000n + BigInt(i * 7919))],
    pending: [],
    boot,
    writtenAt: 1_790_000_000_000 + i,
    pod: { namespace: "default", name: `pod-${i}` }
  })
  for (let i = 0; i < count; i++) await Effect.runPromise(files.put(recordOf(network, i)))
  await Effect.runPromise(files.put(recordOf(warmNetwork, 0)))
  // writers mid-write: fresh temporary files (list looks at their age)
  for (let i = 0; i < temps; i++) {
    const name = `${store.temporaryPrefixOf(`t${i}@eth0.json`)}${process.pid}-${store.temporarySuffix()}`
    fs.writeFileSync(path.join(dataDir, network, name), "{")
  }
  return dataDir
}

/** Warm CPU microseconds per call of `f`: median of 5 batches of `iterations` calls. */
const warm = async (f: () => unknown, iterations = 200): Promise<number> => {
  for (let i = 0; i < 50; i++) await f()
  const batches: Array<number> = []
  for (let b = 0; b < 5; b++) {
    const start = process.cpuUsage()
    for (let i = 0; i < iterations; i++) await f()
    batches.push(cpuMicros(start) / iterations)
  }
  return median(batches)
}

const main = async () => {
  const count = Number(process.env.RECORDS ?? 64)
  const temps = Number(process.env.TEMPS ?? 3)
  const runs = Number(process.env.RUNS ?? 15)
  const after = path.resolve(import.meta.dirname, "../src")
  const forms = [
    ...(process.env.BEFORE_SRC === undefined
      ? []
      : [{ name: "before", src: path.resolve(process.env.BEFORE_SRC) }]),
    { name: "after", src: after }
  ]
  const dataDir = await makeDataDir(after, count, temps)
  try {
    const samples = new Map(forms.map((f) => [f.name, [] as Array<{ first: number; second: number }>]))
    for (let run = 0; run < runs; run++) {
      for (const form of forms) {
        const out = spawnSync(process.execPath, [import.meta.filename, "--child", form.src, dataDir], {
          encoding: "utf8"
        })
        if (out.status !== 0) throw new Error(`${form.name}: ${out.stderr}`)
        const result = JSON.parse(out.stdout) as { first: number; second: number; live: number }
        if (result.live !== count) throw new Error(`${form.name} read ${result.live} records, not ${count}`)
        samples.get(form.name)?.push(result)
      }
    }
    console.log(
      `node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(1)}; ${count} records and ${temps} temporary files in one network`
    )
    console.log(
      `| readHoldings in a fresh process (${runs} processes per form, interleaved) | first call, CPU us | per record | second call, CPU us |`
    )
    console.log("| --- | ---: | ---: | ---: |")
    for (const form of forms) {
      const s = samples.get(form.name) ?? []
      const first = median(s.map((x) => x.first))
      console.log(
        `| ${form.name} | ${first.toFixed(0)} | ${(first / count).toFixed(1)} | ${median(s.map((x) => x.second)).toFixed(0)} |`
      )
    }

    // warm, in this process: where the per-record cost goes
    const { Effect, store, attachments, ownership } = await load(after)
    const files = store.make(dataDir)
    const dir = path.join(dataDir, network)
    const names = fs.readdirSync(dir).filter((n) => !n.startsWith("."))
    const texts = names.map((n) => fs.readFileSync(path.join(dir, n), "utf8"))
    const rows: Array<[string, number]> = [
      ["readdirSync of the directory", await warm(() => fs.readdirSync(dir))],
      [
        "readFileSync of every record",
        await warm(() => names.map((n) => fs.readFileSync(`${dir}/${n}`, "utf8")))
      ],
      ["JSON.parse of every record", await warm(() => texts.map((t) => JSON.parse(t)))],
      [
        "decodeRecord of every record (JSON.parse, checks, IP parsing)",
        await warm(() => texts.map(store.decodeRecord))
      ],
      ["store.list", await warm(() => Effect.runPromise(files.list(network)))],
      ["store.quarantined", await warm(() => Effect.runPromise(files.quarantined(network)))],
      [
        "readHoldings (list, quarantined, who holds what)",
        await warm(() =>
          Effect.runPromise(
            ownership.readHoldings(network).pipe(Effect.provideService(attachments.Attachments, files))
          )
        )
      ]
    ]
    console.log(
      `\n| warm, this process (median of 5 batches) | CPU us per call | per record |\n| --- | ---: | ---: |`
    )
    for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(1)} | ${(us / count).toFixed(2)} |`)
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[2] === "--child") await child(process.argv[3] ?? "", process.argv[4] ?? "")
else await main()
