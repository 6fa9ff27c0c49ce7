// CNI VERSION answered without Effect: the fixed reply written straight to fd 1, stdin never read.
import * as fs from "node:fs"
import { versionReply } from "./versionReply.ts"

/**
 * Writes VERSION's reply to stdout. A blocking `writeSync` on fd 1 skips creating
 * `process.stdout` (about 3 ms); if fd 1 is a non-blocking pipe that is full (EAGAIN), the rest
 * goes through `process.stdout`, which waits for the reader.
 */
export const answerVersion = (): void => {
  const bytes = Buffer.from(versionReply)
  let written = 0
  try {
    while (written < bytes.length) written += fs.writeSync(1, bytes, written)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error
    process.stdout.write(bytes.subarray(written))
  }
}
