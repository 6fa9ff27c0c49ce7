// The CNI environment variables: read through effect's Config (so tests inject them) and validated.
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { checkContainerId, checkIfname, maxIfnameBytes } from "../../domain/ContainerId.ts"
import { maxContainerIdBytes, maxFileNameBytes } from "../FileAttachments.ts"
import { CniCode, type CniError, cniError } from "./CniError.ts"

/** The verbs of the spec. */
export const cniCommands = ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"] as const

/** One CNI verb. */
export type CniCommand = (typeof cniCommands)[number]

/** The environment of one invocation, validated for its command. */
export interface CniEnv {
  readonly command: CniCommand
  /** CNI_CONTAINERID: set (and valid) for ADD, DEL and CHECK. */
  readonly containerId: string
  /** CNI_IFNAME: set (and valid) for ADD, DEL and CHECK. */
  readonly ifname: string
  /** CNI_NETNS: required for ADD and CHECK; the plugin never enters it (IPAM only). */
  readonly netns: string | undefined
  /** CNI_ARGS, raw ("" when unset). */
  readonly args: string
  /** CNI_PATH (optional: an IPAM plugin delegates to nobody). */
  readonly path: string | undefined
}

/** An env variable, empty counted as unset (libcni's skel does the same). */
const variable = (name: string): Effect.Effect<string | undefined, CniError> =>
  Config.option(Config.String(name)).pipe(
    Effect.map((value) => Option.getOrUndefined(Option.filter(value, (text) => text !== ""))),
    Effect.mapError((e) => cniError(CniCode.invalidEnvironment, `${name}: cannot be read`, String(e)))
  )

/** CNI_COMMAND, one of the spec's verbs (code 4 otherwise). */
export const readCommand: Effect.Effect<CniCommand, CniError> = Effect.flatMap(
  variable("CNI_COMMAND"),
  (command) => {
    if (command === undefined) {
      return Effect.fail(
        cniError(CniCode.invalidEnvironment, "CNI_COMMAND: required environment variable missing")
      )
    }
    return (cniCommands as ReadonlyArray<string>).includes(command)
      ? Effect.succeed(command as CniCommand)
      : Effect.fail(
          cniError(
            CniCode.invalidEnvironment,
            `CNI_COMMAND: unknown command ${JSON.stringify(command)}; expected one of ${cniCommands.join(", ")}`
          )
        )
  }
)

const needsAttachment = (command: CniCommand): boolean =>
  command === "ADD" || command === "DEL" || command === "CHECK"

/**
 * Every variable `command` needs, validated (code 4, message naming the variable):
 * CNI_CONTAINERID and CNI_IFNAME for ADD/DEL/CHECK, CNI_NETNS for ADD/CHECK (not DEL).
 */
export const readEnv = (command: CniCommand): Effect.Effect<CniEnv, CniError> =>
  Effect.gen(function* () {
    const containerId = yield* variable("CNI_CONTAINERID")
    const ifname = yield* variable("CNI_IFNAME")
    const netns = yield* variable("CNI_NETNS")
    const args = yield* variable("CNI_ARGS")
    const path = yield* variable("CNI_PATH")
    const missing: Array<string> = []
    if (needsAttachment(command)) {
      if (containerId === undefined) missing.push("CNI_CONTAINERID")
      if (command !== "DEL" && netns === undefined) missing.push("CNI_NETNS")
      if (ifname === undefined) missing.push("CNI_IFNAME")
    }
    if (missing.length > 0) {
      return yield* cniError(
        CniCode.invalidEnvironment,
        `${missing.join(", ")}: required environment variable${missing.length > 1 ? "s" : ""} missing for ${command}`
      )
    }
    if (needsAttachment(command)) {
      const badId = checkContainerId(containerId!)
      if (badId !== undefined)
        return yield* cniError(CniCode.invalidEnvironment, `CNI_CONTAINERID: ${badId.message}`)
      if (Buffer.byteLength(containerId!) > maxContainerIdBytes) {
        return yield* cniError(
          CniCode.invalidEnvironment,
          `CNI_CONTAINERID: longer than ${maxContainerIdBytes} characters; its record <containerId>@<ifname>.json must fit a file name (NAME_MAX ${maxFileNameBytes} bytes) with a ${maxIfnameBytes}-byte interface name`
        )
      }
      const badIfname = checkIfname(ifname!)
      if (badIfname !== undefined)
        return yield* cniError(CniCode.invalidEnvironment, `CNI_IFNAME: ${badIfname.message}`)
    }
    return { command, containerId: containerId ?? "", ifname: ifname ?? "", netns, args: args ?? "", path }
  })
