// Replies captured from a real BIRD 2.0.12 (lab namespaces), read as the socket delivered them.
// Captured over node:net from a two-node test/support/Lab.ts (established, peer stopped/crashed,
// `show protocols all peer1`, bad commands) and from one BIRD in a private netns configured with
// `timeformat protocol iso long`, a long protocol name and a disabled session. The status-protocols-*
// conversations (`show status` then `show protocols`) come from a three-node lab: iso long ms (the
// shipped bird.conf), a session disabled, a session re-enabled moments before; iso short ms (the default).
// status-protocols-all-reflector: `show status`, `show protocols all` of a route reflector rendered by
// the DaemonSet's render-bird.sh (its `neighbor range` protocol, the other reflector, two spawned
// client sessions, one of them down moments before); status-protocols-all-recovering: a client started
// with -R (as the DaemonSet does), both sessions Established 0.7 s before, BIRD still in graceful
// restart recovery and none of the learned routes in its kernel yet.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { type Reply, takeReply } from "../../../src/adapters/bird/ControlReply.ts"

/** A captured conversation: the greeting and the replies that followed, byte for byte. */
export const fixtureText = (name: string): string =>
  readFileSync(join(import.meta.dirname, "fixtures", `${name}.txt`), "utf8")

/** Every reply of a captured conversation, greeting first; throws on anything but whole replies. */
export const fixtureReplies = (name: string): ReadonlyArray<Reply> => {
  const replies: Array<Reply> = []
  let rest = fixtureText(name)
  while (rest !== "") {
    const read = takeReply(rest)
    if (read._tag !== "Complete") throw new Error(`fixture ${name}: ${read._tag} at "${rest.slice(0, 40)}"`)
    replies.push(read.reply)
    rest = read.rest
  }
  return replies
}

/** The reply to the (single) command of a captured conversation. */
export const commandReply = (name: string): Reply => {
  const reply = fixtureReplies(name)[1]
  if (reply === undefined) throw new Error(`fixture ${name} has no reply after the greeting`)
  return reply
}

/** The text of each reply of a captured conversation, greeting first, byte for byte. */
export const fixtureReplyTexts = (name: string): ReadonlyArray<string> => {
  const texts: Array<string> = []
  let rest = fixtureText(name)
  while (rest !== "") {
    const read = takeReply(rest)
    if (read._tag !== "Complete") throw new Error(`fixture ${name}: ${read._tag} at "${rest.slice(0, 40)}"`)
    texts.push(rest.slice(0, rest.length - read.rest.length))
    rest = read.rest
  }
  return texts
}
