// The lifecycles the suite runs: the domain's, and negative controls (a verdict blind to the fabric, the release rules before issue 8, a GC that trusts its plan).
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { attach, checkAttachment, detach } from "../../src/domain/Attach.ts"
import { Attachments } from "../../src/domain/Attachments.ts"
import { collectGarbage, planCollection } from "../../src/domain/Collection.ts"
import { namedBy, readHoldings, releaseOnBehalf, releaseOrphans } from "../../src/domain/Ownership.ts"
import { subnetsOf } from "../../src/domain/Pool.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"
import type { Lifecycle } from "./LifecycleHistory.ts"
import * as Old from "./OldLifecycle.ts"

/** The domain's lifecycle, with the partition-aware verdict. */
export const current: Lifecycle = {
  attach: (network, owner, requested, fabric) =>
    attach(network, owner, requested, fabric === undefined ? {} : { fabric }),
  detach,
  check: checkAttachment,
  collect: collectGarbage,
  watchFabric: true
}

/** Negative control: the same lifecycle with the verdict that ignores the fabric. */
export const blindVerdict: Lifecycle = { ...current, watchFabric: false }

/** Negative control: the release rules before issue 8 (no lock, release by "ours", records outlive reboots). */
export const oldRules: Lifecycle = {
  attach: (network, owner, requested, fabric) => Old.attach(network, owner, requested, undefined, fabric),
  detach: Old.detach,
  check: checkAttachment,
  collect: (network, request) =>
    Effect.gen(function* () {
      if (request.valid !== undefined) return yield* Old.collectGarbage(network, request.valid)
      // the old plain gc: keep every complete record, and (by file age) every record within the
      // grace period; records carry no age here, so a grace keeps every record (the benefit of the doubt)
      const store = yield* Attachments
      const records = yield* store.list(network.name)
      const valid = records
        .filter((r) => r.pending.length === 0 || request.graceMillis > 0)
        .map((r) => ({ containerId: r.containerId, ifname: r.ifname }))
      return yield* Old.collectGarbage(network, valid)
    }),
  watchFabric: true
}

/**
 * Negative control: today's lifecycle with the GC of before the owner lock, which acted on its plan
 * (a record read before the routes) without reading the record again: it releases an address whose
 * ADD confirmed it since the plan.
 */
export const planTrustingGc: Lifecycle = {
  ...current,
  collect: (network, request) =>
    Effect.gen(function* () {
      const store = yield* Attachments
      const table = yield* RouteTable
      const holdings = yield* readHoldings(network.name)
      const routes = []
      for (const subnet of network.pools.flatMap(subnetsOf))
        routes.push(...(yield* table.hostRoutesIn(subnet)))
      const plan = planCollection(network, holdings, routes, request, yield* Clock.currentTimeMillis)
      for (const record of plan.release) {
        yield* releaseOnBehalf(network.name, record, namedBy(record))
        yield* store.remove(record)
      }
      for (const record of plan.forget) yield* store.remove(record)
      yield* releaseOrphans(network.name, plan.orphans)
    })
}
