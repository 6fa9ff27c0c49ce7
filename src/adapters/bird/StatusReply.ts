// The reply to BIRD's `show status`: the daemon's own clock ("Current server time is ...") and whether it is still recovering (pure).
import * as Result from "effect/Result"
import { isErrorCode, type Reply } from "./ControlReply.ts"
import { type BirdTime, parseBirdTime } from "./BirdTime.ts"

const serverTime = /^Current server time is (.+)$/

/**
 * BIRD's current time, printed in its `timeformat base` (default `iso long ms`), or why the reply
 * does not give one. It is what "how long has this session been up" is measured against: the
 * same clock and time zone as the `since` column of `show protocols`.
 */
export const parseServerTime = (reply: Reply): Result.Result<BirdTime, string> => {
  const last = reply.lines.at(-1)
  if (isErrorCode(reply.code)) return Result.fail(`BIRD answered ${reply.code} ${last?.text ?? ""}`.trim())
  for (const line of reply.lines) {
    const match = serverTime.exec(line.text.trim())
    if (match === null) continue
    const time = parseBirdTime(match[1] ?? "")
    return time === undefined
      ? Result.fail(`unreadable server time "${match[1]}" (use a named iso \`timeformat base\`)`)
      : Result.succeed(time)
  }
  return Result.fail("no `Current server time` in the answer to `show status`")
}

/**
 * Whether BIRD says "Graceful restart recovery in progress" (started with -R): until that ends it
 * installs no route it learned into the kernel, so this node's table lacks every claim made since
 * BIRD went away (or all of them, on a fresh node), even with every session Established. Measured
 * on 2.0.12: ~2.5 s after both sessions of a reflector client came up.
 */
export const inGracefulRestartRecovery = (reply: Reply): boolean =>
  reply.lines.some((line) => line.text.trim() === "Graceful restart recovery in progress")
