// One rtnetlink request and its decoded reply within a deadline, and the RouteTableError of a failed one: shared by every netlink adapter.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { bitsOf, type Ip } from "../../domain/Ip.ts"
import { RouteTableError } from "../../domain/RouteTable.ts"
import { addressFamilyOf } from "./AddressBytes.ts"
import type { rt } from "./NetlinkPackage.ts"
import { describeFailure } from "./NetlinkRejection.ts"
import { decodeReply, type RtnlTransport, requestNames } from "./RtnlTransport.ts"

/** `cause` as a RouteTableError of `operation` (kept as it is when it is one already). */
export const routeTableFailure = (operation: string) => (cause: unknown) =>
  cause instanceof RouteTableError
    ? cause
    : new RouteTableError({ operation, message: describeFailure(cause) })

/** The family and prefix length of a host route's header. */
export const hostHead = (host: Ip) => ({ family: addressFamilyOf(host.family), dstLen: bitsOf(host.family) })

/** One turn of the event loop: lets I/O callbacks that are already due run. */
const ioTurn: Effect.Effect<void> = Effect.promise(
  () => new Promise<void>((resolve) => setImmediate(resolve))
)

/**
 * One request on `transport` and its decoded reply, bounded by `timeout` ms (then a TimedOut
 * RouteTableError of `operation`). Fails with what went wrong otherwise (a KernelRejection with
 * the kernel's errno, or the transport's error), unchanged.
 */
const exchangeWithin = (
  transport: RtnlTransport,
  operation: string,
  type: rt.MessageType,
  payload: ReadonlyArray<Uint8Array>,
  flags: number,
  timeout: number
): Effect.Effect<ReadonlyArray<rt.Message>, unknown> => {
  const name = requestNames[type] ?? `rtnetlink message ${type}`
  const reply = Effect.tryPromise({
    try: () => transport.request(type, payload, flags),
    catch: (cause) => cause
  }).pipe(
    Effect.flatMap((messages) =>
      Effect.try({ try: () => decodeReply(messages, name), catch: (cause) => cause })
    )
  )
  // A starved process (a loaded node) runs its expired timers before it reads its sockets: give
  // a reply that is already there a turn of the event loop (two, for margin) before calling it lost.
  const deadline = Effect.sleep(Duration.millis(timeout)).pipe(
    Effect.andThen(ioTurn),
    Effect.andThen(ioTurn),
    Effect.andThen(
      Effect.fail(
        new RouteTableError({
          operation,
          reason: "TimedOut",
          message: `the kernel did not answer ${name} within ${timeout} ms`
        })
      )
    )
  )
  return Effect.raceFirst(reply, deadline)
}

/** One bounded exchange (request, decoded reply, deadline) on a transport; see `serialExchange`. */
export type Exchange = (
  operation: string,
  type: rt.MessageType,
  payload: ReadonlyArray<Uint8Array>,
  flags: number,
  timeout: number
) => Effect.Effect<ReadonlyArray<rt.Message>, unknown>

/**
 * The exchanges of every adapter on `transport`, one request at a time. The package pairs a
 * reply with its request by sequence number, but assembles a dump from whatever arrives next, so
 * a reply to another request that arrived between two parts of a dump failed the dump
 * ("Multipart message not terminated properly"); a dual-stack ADD claims both families at once
 * and may dump one of them. Each request holds the turn until it is answered or timed out.
 */
export const serialExchange = (transport: RtnlTransport): Effect.Effect<Exchange> =>
  Effect.map(
    Semaphore.make(1),
    (turn): Exchange =>
      (operation, type, payload, flags, timeout) =>
        turn.withPermits(1)(exchangeWithin(transport, operation, type, payload, flags, timeout))
  )
