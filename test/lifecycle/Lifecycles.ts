// The lifecycles the suite runs: the domain's, and two negative controls (a verdict blind to the fabric, the release rules before issue 8).
import * as Effect from "effect/Effect"
import { attach, checkAttachment, detach } from "../../src/domain/Attach.ts"
import { Attachments } from "../../src/domain/Attachments.ts"
import { collectGarbage } from "../../src/domain/Collection.ts"
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
