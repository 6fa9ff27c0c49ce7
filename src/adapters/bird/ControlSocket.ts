// A few commands over BIRD's control socket, one connection (a unix socket, spoken to directly; no birdc process).
import { connect } from "node:net"
import { isErrorCode, type Reply, takeReply } from "./ControlReply.ts"

/** How a conversation ended: BIRD's reply to each command, in order, or why there are none. */
export type Conversation =
  | { readonly _tag: "Answered"; readonly replies: ReadonlyArray<Reply> }
  | { readonly _tag: "Failed"; readonly reason: string }

const greetingCode = 1

const describeSocketError = (error: NodeJS.ErrnoException): string => {
  switch (error.code) {
    case "ENOENT":
      return "no such socket (ENOENT): is BIRD running with this control socket?"
    case "ECONNREFUSED":
      return "connection refused (ECONNREFUSED): no BIRD is listening on it"
    case "EACCES":
      return "permission denied (EACCES)"
    default:
      return error.message
  }
}

/**
 * Connect to the socket at `path`, wait for BIRD's greeting ("0001 BIRD 2.0.12 ready."), send
 * each of `commands` once the previous one is answered (so they run in this order), and call `done`
 * exactly once with every reply or a failure (socket missing, refused, closed early, not BIRD's
 * protocol, no complete answers within `timeoutMs`).
 * Returns a function that abandons the conversation (closing the socket; `done` is not called).
 */
export const converse = (
  path: string,
  commands: ReadonlyArray<string>,
  timeoutMs: number,
  done: (outcome: Conversation) => void
): (() => void) => {
  const socket = connect(path)
  let buffer = ""
  let greeted = false
  const replies: Array<Reply> = []
  let finished = false
  const finish = (outcome: Conversation) => {
    if (finished) return
    finished = true
    clearTimeout(timer)
    socket.destroy()
    done(outcome)
  }
  const fail = (reason: string) => finish({ _tag: "Failed", reason })
  const timer = setTimeout(
    () =>
      fail(`no complete answer within ${timeoutMs} ms (${greeted ? "after the greeting" : "no greeting"})`),
    timeoutMs
  )
  socket.setEncoding("utf8")
  socket.on("error", (error) => fail(describeSocketError(error)))
  socket.on("close", () => fail("BIRD closed the connection before answering"))
  socket.on("data", (chunk: string) => {
    buffer += chunk
    for (;;) {
      const read = takeReply(buffer)
      if (read._tag === "Incomplete") return
      if (read._tag === "Malformed") return fail(`not BIRD's control protocol: "${read.line.slice(0, 80)}"`)
      buffer = read.rest
      if (greeted) replies.push(read.reply)
      else if (read.reply.code !== greetingCode) {
        const text = read.reply.lines.at(-1)?.text ?? ""
        const what = isErrorCode(read.reply.code) ? "refused the connection" : "did not greet"
        return fail(`BIRD ${what}: ${String(read.reply.code).padStart(4, "0")} ${text}`)
      }
      greeted = true
      const next = commands[replies.length]
      if (next === undefined) return finish({ _tag: "Answered", replies })
      socket.write(`${next}\n`)
    }
  })
  return () => {
    finished = true
    clearTimeout(timer)
    socket.destroy()
  }
}
