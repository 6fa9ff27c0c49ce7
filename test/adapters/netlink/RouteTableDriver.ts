// Runs NetlinkRouteTable operations given as JSON on stdin, inside a test's network namespace; prints JSON results.
// Usage (through Netns.exec): node test/adapters/netlink/RouteTableDriver.ts < {"options":{...},"steps":[...]}
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import * as NetlinkRouteTable from "../../../src/adapters/NetlinkRouteTable.ts"
import { type Cidr, formatIp, type Ip, parseCidr, parseIp } from "../../../src/domain/Ip.ts"
import type { Route } from "../../../src/domain/Route.ts"
import { RouteTable } from "../../../src/domain/RouteTable.ts"
import { assertPrivateNetns } from "../../support/NetnsGuard.ts"

/** One port call: `arg` is an address, or a prefix for hostRoutesIn. */
export interface Step {
  readonly op: "claim" | "release" | "isTaken" | "routesTo" | "hostRoutesIn" | "sourceTowards"
  readonly arg: string
}

export interface Script {
  readonly options?: NetlinkRouteTable.Options
  readonly steps: ReadonlyArray<Step>
}

/** A Route with addresses as text. */
export interface RouteJson extends Omit<Route, "host" | "nextHop"> {
  readonly host: string
  readonly nextHop?: string
}

export type StepResult =
  | { readonly ok: unknown }
  | { readonly error: { readonly _tag: string } & Record<string, unknown> }

const address = (text: string): Ip =>
  Option.getOrThrowWith(parseIp(text), () => new Error(`not an address: ${text}`))
const prefix = (text: string): Cidr =>
  Option.getOrThrowWith(parseCidr(text), () => new Error(`not a prefix: ${text}`))

const routeJson = ({ host, nextHop, ...rest }: Route): RouteJson => ({
  ...rest,
  host: formatIp(host),
  ...(nextHop === undefined ? {} : { nextHop: formatIp(nextHop) })
})

const call = (table: RouteTable["Service"], step: Step): Effect.Effect<unknown, unknown> => {
  switch (step.op) {
    case "claim":
      return table.claim(address(step.arg))
    case "release":
      return table.release(address(step.arg))
    case "isTaken":
      return table.isTaken(address(step.arg))
    case "routesTo":
      return Effect.map(table.routesTo(address(step.arg)), (routes) => routes.map(routeJson))
    case "hostRoutesIn":
      return Effect.map(table.hostRoutesIn(prefix(step.arg)), (routes) => routes.map(routeJson))
    case "sourceTowards":
      return Effect.map(table.sourceTowards(address(step.arg)), (source) =>
        source === undefined ? null : formatIp(source)
      )
  }
}

const asResult = (effect: Effect.Effect<unknown, unknown>): Effect.Effect<StepResult> =>
  effect.pipe(
    Effect.map((ok): StepResult => ({ ok: ok ?? null })),
    Effect.catch((error) => Effect.succeed<StepResult>({ error: { ...(error as { _tag: string }) } }))
  )

assertPrivateNetns()
const script = JSON.parse(readFileSync(0, "utf8")) as Script
const program = Effect.gen(function* () {
  const table = yield* RouteTable
  const results: Array<StepResult> = []
  for (const step of script.steps) results.push(yield* asResult(call(table, step)))
  return results
}).pipe(
  Effect.provide(NetlinkRouteTable.layer(script.options)),
  Effect.map((results) => ({ results })),
  Effect.catch((error) => Effect.succeed({ layerError: { ...(error as { _tag: string }) } })),
  Effect.scoped
)
process.stdout.write(`${JSON.stringify(await Effect.runPromise(program))}\n`)
