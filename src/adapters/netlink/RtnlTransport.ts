// The rtnetlink socket as the route table uses it: send one request, get its reply or the kernel's errno.
import {
  AttrStream,
  createNetlink,
  MessageType,
  type NetlinkMessage,
  Protocol,
  parseError,
  rt
} from "./NetlinkPackage.ts"
import { KernelRejection } from "./NetlinkRejection.ts"

/**
 * One rtnetlink exchange: the seam between NetlinkRouteTable and its socket.
 *
 * Gotchas:
 * - `request` may never resolve (a reply lost on the way): NetlinkRouteTable bounds every call
 *   with its own timeout, so a transport needs none. Tests wrap a real transport to lose replies.
 * - The reply comes back undecoded, NLMSG_ERROR messages included: `decodeReply` turns a
 *   non-zero error into a `KernelRejection` carrying the errno the kernel sent.
 */
export interface RtnlTransport {
  /** Send one request (REQUEST|ACK plus `flags`); resolve with every message of its reply. */
  readonly request: (
    type: rt.MessageType,
    payload: ReadonlyArray<Uint8Array>,
    flags: number
  ) => Promise<ReadonlyArray<NetlinkMessage>>
  /** Close the socket; pending requests never resolve. */
  readonly close: () => void
}

/** What a transport needs of the package's NetlinkSocket (a test gives a fake). */
export interface RouteSocket {
  request(
    type: number,
    data: Array<Uint8Array>,
    options: { readonly flags: number; readonly checkError: false }
  ): Promise<[Array<NetlinkMessage>, unknown]>
  on(event: "error", listener: (error: Error & { readonly code?: string }) => void): unknown
  close(): void
}

/**
 * A transport over a fresh NETLINK_ROUTE socket of this process's network namespace.
 * The package re-emits a failed receive (e.g. ENOBUFS: the kernel dropped messages) as an
 * "error" event, which would throw with no listener: the requests in flight fail with it
 * instead (their replies may be among the dropped).
 */
export const openTransport = (
  create: () => RouteSocket = () => createNetlink(Protocol.ROUTE)
): RtnlTransport => {
  const socket = create()
  const inFlight = new Set<(cause: unknown) => void>()
  socket.on("error", (error) => {
    const cause = new Error(`receiving from the netlink socket failed: ${error.code ?? error.message}`)
    for (const reject of inFlight) reject(cause)
    inFlight.clear()
  })
  return {
    request: (type, payload, flags) =>
      new Promise((resolve, reject) => {
        inFlight.add(reject)
        socket
          .request(type, [...payload], { flags, checkError: false })
          .then(([messages]) => resolve(messages), reject)
          .finally(() => inFlight.delete(reject))
      }),
    close: () => socket.close()
  }
}

/** The rtnetlink message types this adapter sends, by name (for messages). */
export const requestNames: Readonly<Record<number, string>> = {
  [rt.MessageType.NEWROUTE]: "RTM_NEWROUTE",
  [rt.MessageType.DELROUTE]: "RTM_DELROUTE",
  [rt.MessageType.GETROUTE]: "RTM_GETROUTE",
  [rt.MessageType.GETLINK]: "RTM_GETLINK"
}

/**
 * The decoded messages of a reply. Throws `KernelRejection` (with the errno) when the kernel
 * answered NLMSG_ERROR with a non-zero error; an ACK (error 0) is dropped.
 */
export const decodeReply = (
  messages: ReadonlyArray<NetlinkMessage>,
  request: string
): ReadonlyArray<rt.Message> =>
  messages.flatMap((message) => {
    if (message.type === MessageType.ERROR) {
      const { errno } = parseError(message.data, message.flags)
      if (errno !== 0) throw new KernelRejection(-errno, request)
      return []
    }
    return [rt.parseMessage(message.type, message.data)]
  })

/** The payload of a route message. */
export const routePayload = (data: rt.Route, attrs: rt.RouteAttrs): ReadonlyArray<Uint8Array> => {
  const out = new AttrStream()
  rt.formatRouteMessage({ data, attrs }, out)
  return out.bufs
}

/** The payload of a link message. */
export const linkPayload = (data: rt.Link, attrs: { readonly ifname: string }): ReadonlyArray<Uint8Array> => {
  const out = new AttrStream()
  rt.formatLinkMessage(data, attrs, out)
  return out.bufs
}
