// Refuse to touch routes unless this process provably runs in a network namespace a test made.
import { readlinkSync } from "node:fs"

/** Env var naming the namespace (`net:[inode]`) the test meant this process to run in. */
export const expectedNetnsVariable = "RTIPAM_NETNS_EXPECTED"
/** Env var naming the namespace of the test runner, which must never be touched. */
export const initialNetnsVariable = "RTIPAM_NETNS_INITIAL"

const readNetns = (path: string): string | undefined => {
  try {
    return readlinkSync(path)
  } catch {
    return undefined
  }
}

/** The network namespace of this process, as `net:[inode]`. */
export const currentNetns = (): string => readlinkSync("/proc/self/ns/net")

/**
 * Throws unless this process is in a private network namespace: not the one of PID 1 (when
 * readable; it is not inside a user namespace, nor for non-root), not the test runner's
 * (`RTIPAM_NETNS_INITIAL`), and the one the test intended (`RTIPAM_NETNS_EXPECTED`) when given.
 * With neither a readable PID 1 nor an env var to compare against, it refuses: unproven is unsafe.
 */
export const assertPrivateNetns = (): void => {
  const self = currentNetns()
  const expected = process.env[expectedNetnsVariable]
  const forbidden = [readNetns("/proc/1/ns/net"), process.env[initialNetnsVariable]].filter(
    (ns): ns is string => ns !== undefined && ns !== ""
  )
  if (expected !== undefined && expected !== self) {
    throw new Error(`refusing to touch routes: in ${self}, expected ${expected}`)
  }
  if (forbidden.includes(self)) {
    throw new Error(`refusing to touch routes: ${self} is the initial network namespace`)
  }
  if (forbidden.length === 0 && expected === undefined) {
    throw new Error(`refusing to touch routes: cannot prove ${self} is a private network namespace`)
  }
}
