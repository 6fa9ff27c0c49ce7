// Fabric health from BIRD 2: every BGP session Established and settled, no restart recovery pending, and an epoch that moves with any flap.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { FabricHealth, FabricHealthError, type FabricReport } from "../domain/FabricHealth.ts"
import { converse } from "./bird/ControlSocket.ts"
import { parseProtocols, selectSessions } from "./bird/ProtocolsReply.ts"
import { assessSessions, type EpochSnapshot, type Requirement } from "./bird/SessionEpoch.ts"
import { inGracefulRestartRecovery, parseServerTime } from "./bird/StatusReply.ts"

/** Where BIRD listens and what counts as healthy; every field has a default. */
export interface BirdFabricHealthOptions {
  /** BIRD's control socket; default `/run/bird/bird.ctl` (Debian's bird2). */
  readonly socket?: string
  /**
   * A relaxation: healthy with this many Established BGP sessions. Default: EVERY session that
   * counts must be Established (with an iBGP full mesh, a missing session is a peer whose claims
   * never reach this node, and whose view of ours is stale).
   */
  readonly minEstablished?: number
  /** Only BGP protocols of these names count (`protocol bgp <name>`); default every BGP protocol. */
  readonly protocols?: ReadonlyArray<string>
  /** Give up on an answer after this long; default 1 second. */
  readonly timeout?: Duration.Input
}

export const defaultSocket = "/run/bird/bird.ctl"

/**
 * `show status` first: its server time is then no later than the sessions' snapshot. `all`: only
 * its details tell a route reflector's listening `neighbor range` protocol, which never counts.
 */
const commands = ["show status", "show protocols all"] as const

/**
 * The FabricHealth service for these options. Each `check` opens one short connection and asks
 * BIRD's clock, then its protocols. The service remembers the sessions of the report that set the
 * current epoch, so later reports of an unchanged fabric keep it (see `assessSessions`).
 */
export const make = (options: BirdFabricHealthOptions = {}): FabricHealth["Service"] => {
  const socket = options.socket ?? defaultSocket
  const requirement: Requirement =
    options.minEstablished === undefined ? { _tag: "All" } : { _tag: "AtLeast", n: options.minEstablished }
  const timeoutMs = Duration.toMillis(options.timeout ?? Duration.seconds(1))
  let reference: EpochSnapshot | undefined
  const failure = (reason: string) =>
    new FabricHealthError({ message: `cannot ask BIRD at ${socket}: ${reason}` })
  const check = Effect.callback<FabricReport, FabricHealthError>((resume) => {
    const abandon = converse(socket, commands, timeoutMs, (outcome) => {
      if (outcome._tag === "Failed") return resume(Effect.fail(failure(outcome.reason)))
      const [status, protocols] = outcome.replies
      if (status === undefined || protocols === undefined) return resume(Effect.fail(failure("no answer")))
      const now = parseServerTime(status)
      if (Result.isFailure(now)) return resume(Effect.fail(failure(now.failure)))
      const rows = parseProtocols(protocols)
      if (Result.isFailure(rows)) return resume(Effect.fail(failure(rows.failure)))
      const sessions = selectSessions(rows.success, options.protocols)
      const assessed = assessSessions(sessions, now.success, requirement, reference)
      if (Result.isFailure(assessed)) return resume(Effect.fail(failure(assessed.failure)))
      reference = assessed.success.snapshot
      const report = assessed.success.report
      // recovering: the kernel does not yet hold what the sessions carry, whatever their state
      resume(
        Effect.succeed(
          inGracefulRestartRecovery(status)
            ? {
                ...report,
                healthy: false,
                detail: `${report.detail}; graceful restart recovery in progress (learned routes not yet in the kernel)`
              }
            : report
        )
      )
    })
    return Effect.sync(abandon)
  })
  return FabricHealth.of({ check })
}

/**
 * FabricHealth asking BIRD 2's control socket for `show status` and `show protocols all` on every check.
 * Gotchas: BIRD must let this process connect (socket permissions; a `-s` socket per daemon); its
 * `timeformat protocol` and `timeformat base` must be named iso formats (the default `iso short ms`
 * works; `iso long ms` is what deploy/bird/bird.conf sets); without fabric health a partition
 * during the wait cannot be detected at all.
 */
export const layer = (options: BirdFabricHealthOptions = {}): Layer.Layer<FabricHealth> =>
  Layer.sync(FabricHealth, () => make(options))
