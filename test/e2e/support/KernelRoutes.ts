// The routes of a test namespace as `ip -j -N route show table all` prints them, and ours among them.
import { assert } from "@effect/vitest"
import type { Netns } from "../../support/Netns.ts"

/** One route, with numbers (protocol, table) as iproute2 prints them under `-N`. */
export interface KernelRoute {
  readonly dst: string
  readonly dev?: string
  readonly protocol?: string
  readonly metric?: number
  readonly table?: string
  readonly type?: string
}

/** Every route of `family` in `ns`, all tables. */
export const routesIn = async (ns: Netns, family: 4 | 6): Promise<ReadonlyArray<KernelRoute>> => {
  const out = await ns.run("ip", ["-j", "-N", `-${family}`, "route", "show", "table", "all"])
  return JSON.parse(out) as ReadonlyArray<KernelRoute>
}

/** Routes of `family` with route protocol `protocol` (default 192), all tables. */
export const routesWithProtocol = async (
  ns: Netns,
  family: 4 | 6,
  protocol = 192
): Promise<ReadonlyArray<KernelRoute>> =>
  (await routesIn(ns, family)).filter((route) => route.protocol === String(protocol))

/** Routes with protocol 192 of both families. */
export const ourRoutes = async (ns: Netns): Promise<ReadonlyArray<KernelRoute>> => [
  ...(await routesWithProtocol(ns, 4)),
  ...(await routesWithProtocol(ns, 6))
]

/**
 * Assert that the routes with protocol 192 are exactly host routes to `hosts` (any order), in the
 * main table, with metric 4096, pointing at `device`.
 */
export const assertOurRoutes = async (
  ns: Netns,
  hosts: ReadonlyArray<string>,
  device = "lo"
): Promise<void> => {
  const routes = await ourRoutes(ns)
  const context = `routes with protocol 192: ${JSON.stringify(routes)}`
  assert.deepStrictEqual(
    routes.map((route) => route.dst).sort(),
    [...hosts].sort(),
    `expected exactly ${JSON.stringify(hosts)}; ${context}`
  )
  for (const route of routes) {
    assert.strictEqual(route.metric, 4096, context)
    assert.strictEqual(route.dev, device, context)
    // iproute2 omits the table for main; -N prints 254 when it does show it
    assert.include([undefined, "254"], route.table, context)
    assert.include([undefined, "1"], route.type, context)
  }
}
