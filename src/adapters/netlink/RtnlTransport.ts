// The rtnetlink socket as the route table uses it: send one request, get its reply or the kernel's errno.
import {
  AttrStream,
  createRtNetlink,
  type ifla,
  MessageType,
  type NetlinkMessage,
  parseError,
  rt
} from "netlink"
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

/** A transport over a fresh NETLINK_ROUTE socket of this process's network namespace. */
export const openTransport = (): RtnlTransport => {
  const socket = createRtNetlink().socket
  return {
    request: (type, payload, flags) =>
      socket.request(type, [...payload], { flags, checkError: false }).then(([messages]) => messages),
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
  rt.formatRouteMessage({ kind: "route", data, attrs }, out)
  return out.bufs
}

/** The payload of a link message. */
export const linkPayload = (data: rt.Link, attrs: ifla.LinkAttrs): ReadonlyArray<Uint8Array> => {
  const out = new AttrStream()
  rt.formatLinkMessage({ kind: "link", data, attrs }, out)
  return out.bufs
}
