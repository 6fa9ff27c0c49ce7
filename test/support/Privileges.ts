// What the contributor running the tests may do (root, user namespaces, tools), and suites that need it.
import { spawnSync } from "node:child_process"
import { describe, it } from "@effect/vitest"

let unshareNet: boolean | undefined

/** Whether `unshare -rn true` works: a private network namespace can be made (root or not). */
export const canUnshareNet = (): boolean => {
  unshareNet ??= spawnSync("unshare", ["-rn", "true"], { stdio: "ignore" }).status === 0
  return unshareNet
}

/** Whether this process runs as uid 0. */
export const isRoot = (): boolean => process.getuid?.() === 0

/** Whether an executable of this name is on PATH. */
export const hasCommand = (name: string): boolean =>
  spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" }).status === 0

/** Whether CI demands that privileged suites run (`RTIPAM_REQUIRE_PRIVILEGED=1`). */
export const privilegedRequired = (): boolean => process.env.RTIPAM_REQUIRE_PRIVILEGED === "1"

/**
 * A `describe` for suites that need a capability.
 * Available: runs the suite. Unavailable: skips it and says why on stderr, unless
 * `RTIPAM_REQUIRE_PRIVILEGED=1` (CI), where the suite fails with `reason`.
 *
 * @example privileged("needs `unshare -rn`", canUnshareNet())("NetlinkRouteTable", () => { ... })
 */
export const privileged =
  (reason: string, available: boolean) =>
  (name: string, body: () => void): void => {
    if (available) {
      describe(name, body)
    } else if (privilegedRequired()) {
      describe(name, () => {
        it("has its prerequisites", () => {
          throw new Error(`RTIPAM_REQUIRE_PRIVILEGED=1 but ${reason}`)
        })
      })
    } else {
      console.warn(`skipping "${name}": ${reason} (set RTIPAM_REQUIRE_PRIVILEGED=1 to fail instead)`)
      describe.skip(name, body)
    }
  }
