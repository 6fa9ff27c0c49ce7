// Reply decoding: the errno comes from the kernel's NLMSG_ERROR message, never from an error's text.
import { assert, describe, it } from "@effect/vitest"
import { MessageType, type NetlinkMessage } from "netlink"
import { EventEmitter } from "node:events"
import { constants } from "node:os"
import {
  Errno,
  errnoOf,
  KernelRejection,
  lookupAnswerOf
} from "../../../src/adapters/netlink/NetlinkRejection.ts"
import { decodeReply, openTransport, type RouteSocket } from "../../../src/adapters/netlink/RtnlTransport.ts"

/** An NLMSG_ERROR message as the kernel sends it: the negated errno, then the request's header. */
const errorMessage = (errno: number): NetlinkMessage => {
  const data = Buffer.alloc(4 + 16)
  data.writeInt32LE(-errno, 0)
  return { type: MessageType.ERROR, flags: 0, seq: 1, port: 0, data }
}

const rejectionOf = (messages: ReadonlyArray<NetlinkMessage>): unknown => {
  try {
    decodeReply(messages, "RTM_NEWROUTE")
  } catch (cause) {
    return cause
  }
  return undefined
}

describe("RtnlTransport.decodeReply", () => {
  it("an ACK (error 0) decodes to no messages", () => {
    assert.deepStrictEqual(decodeReply([errorMessage(0)], "RTM_NEWROUTE"), [])
  })

  for (const name of ["EEXIST", "ESRCH", "ENODEV", "EINVAL", "EPERM", "ENETUNREACH"] as const) {
    it(`an error reply carries the kernel's errno: ${name}`, () => {
      const errno = constants.errno[name]
      const cause = rejectionOf([errorMessage(errno)])
      assert.instanceOf(cause, KernelRejection)
      assert.strictEqual(errnoOf(cause), errno)
      assert.strictEqual((cause as KernelRejection).code, name)
      assert.include((cause as KernelRejection).message, `RTM_NEWROUTE: ${name}`)
    })
  }

  it("an errno without a name is kept as a number", () => {
    const cause = rejectionOf([errorMessage(4000)])
    assert.strictEqual(errnoOf(cause), 4000)
    assert.strictEqual((cause as KernelRejection).code, "errno 4000")
  })

  it("an error's text is never read: the netlink package's own message gives no errno", () => {
    assert.isUndefined(errnoOf(new Error("Request rejected: EEXIST")))
    assert.isUndefined(errnoOf("EEXIST"))
  })
})

describe("NetlinkRejection.lookupAnswerOf", () => {
  it("only ENETUNREACH proves there is no route; reject answers are inconclusive; the rest are failures", () => {
    assert.strictEqual(lookupAnswerOf(Errno.ENETUNREACH), "none")
    assert.strictEqual(lookupAnswerOf(Errno.EINVAL), "inconclusive")
    assert.strictEqual(lookupAnswerOf(Errno.EHOSTUNREACH), "inconclusive")
    assert.strictEqual(lookupAnswerOf(Errno.EACCES), "inconclusive")
    assert.isUndefined(lookupAnswerOf(constants.errno.EPERM))
    assert.isUndefined(lookupAnswerOf(constants.errno.ENOBUFS))
    assert.isUndefined(lookupAnswerOf(undefined))
  })
})

describe("RtnlTransport.openTransport", () => {
  /** A socket whose requests never get a reply; `emit("error", ...)` stands for a failed recvmsg. */
  class SilentSocket extends EventEmitter implements RouteSocket {
    sent = 0
    request(): Promise<[Array<NetlinkMessage>, unknown]> {
      this.sent++
      return new Promise(() => {})
    }
    close(): void {}
  }

  it("a receive error fails the requests in flight instead of throwing from the socket", async () => {
    const socket = new SilentSocket()
    const transport = openTransport(() => socket)
    const first = transport.request(26, [], 0)
    const second = transport.request(24, [], 0)
    const failure = Object.assign(new Error("Error when receiving Netlink message"), { code: "ENOBUFS" })
    assert.isTrue(socket.emit("error", failure), "the transport listens for socket errors")
    for (const pending of [first, second]) {
      const cause = await pending.then(
        () => undefined,
        (error: unknown) => error
      )
      assert.instanceOf(cause, Error)
      assert.include((cause as Error).message, "ENOBUFS")
    }
    assert.strictEqual(socket.sent, 2)
  })

  it("without the transport's listener the same event would throw (negative control)", () => {
    const socket = new SilentSocket()
    assert.throws(() => socket.emit("error", new Error("recvmsg")), /recvmsg/)
  })
})
