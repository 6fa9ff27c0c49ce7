// Fabric health from BIRD 2: counts Established BGP sessions over its control socket.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { FabricHealth, FabricHealthError, type FabricReport } from "../domain/FabricHealth.ts"
import { converse } from "./bird/ControlSocket.ts"
import { countSessions, parseProtocols, type SessionCount } from "./bird/ProtocolsReply.ts"

/** Where BIRD listens and what counts as healthy; every field has a default. */
export interface BirdFabricHealthOptions {
  /** BIRD's control socket; default `/run/bird/bird.ctl` (Debian's bird2). */
  readonly socket?: string
  /** Established BGP sessions needed to be healthy; default 1. */
  readonly minEstablished?: number
  /** Only BGP protocols of these names count (`protocol bgp <name>`); default every BGP protocol. */
  readonly protocols?: ReadonlyArray<string>
  /** Give up on an answer after this long; default 1 second. */
  readonly timeout?: Duration.Input
}

export const defaultSocket = "/run/bird/bird.ctl"

/** The report for a session count: healthy iff at least `required` sessions are established. */
export const reportOf = (count: SessionCount, required: number): FabricReport => {
  const missing = count.missing.length === 0 ? "" : `; no BGP protocol named ${count.missing.join(", ")}`
  return {
    healthy: count.established >= required,
    established: count.established,
    required,
    detail: `${count.established} of ${count.total} BGP sessions established (need ${required})${missing}`,
    // TODO(partition verdict): derive from each session's state and since-time
    epoch: "unknown"
  }
}

/** The FabricHealth service for these options (each `check` opens one short connection). */
export const make = (options: BirdFabricHealthOptions = {}): FabricHealth["Service"] => {
  const socket = options.socket ?? defaultSocket
  const required = options.minEstablished ?? 1
  const timeoutMs = Duration.toMillis(options.timeout ?? Duration.seconds(1))
  const failure = (reason: string) =>
    new FabricHealthError({ message: `cannot ask BIRD at ${socket}: ${reason}` })
  const check = Effect.callback<FabricReport, FabricHealthError>((resume) => {
    const abandon = converse(socket, "show protocols", timeoutMs, (outcome) => {
      if (outcome._tag === "Failed") return resume(Effect.fail(failure(outcome.reason)))
      const rows = parseProtocols(outcome.reply)
      if (Result.isFailure(rows)) return resume(Effect.fail(failure(rows.failure)))
      resume(Effect.succeed(reportOf(countSessions(rows.success, options.protocols), required)))
    })
    return Effect.sync(abandon)
  })
  return FabricHealth.of({ check })
}

/**
 * FabricHealth asking BIRD 2's control socket for `show protocols` on every check.
 * Gotcha: BIRD must let this process connect (socket permissions; a `-s` socket per daemon).
 */
export const layer = (options: BirdFabricHealthOptions = {}): Layer.Layer<FabricHealth> =>
  Layer.succeed(FabricHealth, make(options))
