// Measures NetlinkRouteTable latencies with many host routes present; run inside a test namespace. Prints JSON.
// Usage (through Netns.exec): node test/adapters/netlink/measure.ts [hostRoutes=65536]
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as NetlinkRouteTable from "../../../src/adapters/NetlinkRouteTable.ts"
import { ip, parseCidr } from "../../../src/domain/Ip.ts"
import { RouteTable } from "../../../src/domain/RouteTable.ts"
import { assertPrivateNetns } from "../../support/NetnsGuard.ts"

assertPrivateNetns()
const count = Math.min(Number(process.argv[2] ?? 65_536), 65_536)
const base = 0x64400000n // 100.64.0.0: learned routes fill 100.64.0.0/16
const free = 0x64410000n // 100.65.0.0/16: no host routes

const sh = (command: string, input?: string) =>
  execFileSync("sh", ["-c", command], {
    input: input ?? "",
    encoding: "utf8",
    stdio: ["pipe", "pipe", "inherit"]
  })
sh(
  "ip link add up0 type veth peer name peer0 && ip link set up0 up && ip link set peer0 up && ip addr add 198.18.0.1/24 dev up0"
)
const quad = (value: bigint) => [24n, 16n, 8n, 0n].map((shift) => Number((value >> shift) & 0xffn)).join(".")
const batch: Array<string> = []
for (let i = 0n; i < BigInt(count); i++)
  batch.push(`route add ${quad(base + i)}/32 via 198.18.0.2 proto 12 metric 32`)
const insertStart = performance.now()
sh("ip -batch -", `${batch.join("\n")}\n`)
const insertMs = performance.now() - insertStart

const percentile = (samples: ReadonlyArray<number>, p: number) =>
  [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor((samples.length * p) / 100))] ??
  0
const summary = (samples: ReadonlyArray<number>) => ({
  n: samples.length,
  p50: +percentile(samples, 50).toFixed(3),
  p99: +percentile(samples, 99).toFixed(3),
  max: +percentile(samples, 100).toFixed(3)
})

const program = Effect.gen(function* () {
  const table = yield* RouteTable
  const timed = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function* () {
      const start = performance.now()
      const value = yield* effect
      return [performance.now() - start, value] as const
    })
  const sample = (from: bigint, i: number) => ip(4, from + BigInt((i * 7919) % count))

  // ours on 100 hosts that also have a learned route (the conflict case) and on 100 free hosts
  for (let i = 0; i < 100; i++) {
    yield* table.claim(sample(base, i))
    yield* table.claim(ip(4, free + BigInt(i)))
  }
  const isTakenLearned: Array<number> = []
  const isTakenFree: Array<number> = []
  const routesToConflict: Array<number> = []
  const routesToOurs: Array<number> = []
  const routesToFree: Array<number> = []
  let wrong = 0
  for (let i = 0; i < 1000; i++) {
    const [a, taken] = yield* timed(table.isTaken(sample(base, i + 100)))
    isTakenLearned.push(a)
    const [b, notTaken] = yield* timed(table.isTaken(ip(4, free + 1000n + BigInt(i))))
    isTakenFree.push(b)
    if (!taken || notTaken) wrong++
  }
  for (let i = 0; i < 100; i++) {
    const [a, conflict] = yield* timed(table.routesTo(sample(base, i)))
    routesToConflict.push(a)
    const [b, alone] = yield* timed(table.routesTo(ip(4, free + BigInt(i))))
    routesToOurs.push(b)
    const [c, none] = yield* timed(table.routesTo(ip(4, free + 1000n + BigInt(i))))
    routesToFree.push(c)
    if (conflict.length !== 2 || alone.length !== 1 || none.length !== 0) wrong++
  }
  const dumps: Array<number> = []
  let listed = 0
  for (let i = 0; i < 3; i++) {
    const [ms, routes] = yield* timed(table.hostRoutesIn(Option.getOrThrow(parseCidr("100.64.0.0/10"))))
    dumps.push(ms)
    listed = routes.length
  }
  return {
    hostRoutes: count,
    insertMs: Math.round(insertMs),
    wrongAnswers: wrong,
    isTakenLearnedMs: summary(isTakenLearned),
    isTakenFreeMs: summary(isTakenFree),
    routesToConflictMs: summary(routesToConflict),
    routesToOursOnlyMs: summary(routesToOurs),
    routesToFreeMs: summary(routesToFree),
    hostRoutesInMs: summary(dumps),
    hostRoutesInListed: listed
  }
}).pipe(Effect.provide(NetlinkRouteTable.layer()), Effect.scoped)

process.stdout.write(`${JSON.stringify(await Effect.runPromise(program))}\n`)
