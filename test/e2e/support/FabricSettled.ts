// Waits until BIRD's fabric health reports healthy on given nodes: sessions Established AND settled (~0.3 s after).
import * as Effect from "effect/Effect"
import { setTimeout as sleep } from "node:timers/promises"
import * as BirdFabricHealth from "../../../src/adapters/BirdFabricHealth.ts"
import type { FabricReport } from "../../../src/domain/FabricHealth.ts"

/**
 * Poll each socket's fabric health (every 20 ms, up to `timeoutMs`) until it is healthy; throws with
 * the last detail otherwise. Lab.up and waitEstablished only wait for Established: a session that
 * has just come up is still "settling" for the plugin, which then refuses ADD with 11.
 */
export const waitFabricHealthy = async (
  sockets: ReadonlyArray<string>,
  timeoutMs = 10_000
): Promise<ReadonlyArray<FabricReport>> => {
  const deadline = Date.now() + timeoutMs
  return Promise.all(
    sockets.map(async (socket) => {
      const service = BirdFabricHealth.make({ socket })
      for (;;) {
        const report = await Effect.runPromise(
          service.check.pipe(
            Effect.catch((error) => Effect.succeed({ healthy: false, detail: error.message } as FabricReport))
          )
        )
        if (report.healthy) return report
        if (Date.now() > deadline) throw new Error(`fabric at ${socket} not healthy: ${report.detail}`)
        await sleep(20)
      }
    })
  )
}
