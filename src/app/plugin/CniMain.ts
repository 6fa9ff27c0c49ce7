// The CNI plugin as one effect: env + stdin in, exactly one JSON document (or nothing) out, exit code.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { readCommand, readEnv } from "../../adapters/cni/CniEnv.ts"
import {
  CniCode,
  type CniError,
  cniError,
  encodeCniError,
  exitStatusOf
} from "../../adapters/cni/CniError.ts"
import { decodeRequest, type PluginRequest, readStdinConf } from "../../adapters/cni/CniRequest.ts"
import { encodeVersionInfo } from "../../adapters/cni/CniResult.ts"
import { readStdin } from "../../adapters/cni/CniStdin.ts"
import { type CniVersion, latestVersion, supportedVersions } from "../../adapters/cni/CniVersion.ts"
import { cniErrorOf, type DomainError } from "../../adapters/cni/DomainErrorCodes.ts"
import { formatPod } from "../../domain/Attachments.ts"
import { add } from "./Add.ts"
import { check } from "./Check.ts"
import { del } from "./Del.ts"
import { gc } from "./Gc.ts"
import { type EarlyRequest, logEarlyFailure } from "./EarlyFailureLog.ts"
import { PluginAdapters, type PluginServices } from "./PluginAdapters.ts"
import { withPluginLogger } from "./PluginLogger.ts"
import { status } from "./Status.ts"

/**
 * How the process ends after a failed invocation: the CNI error JSON is already on stdout, so
 * runMain must exit with `code` and print nothing (its report would go to stdout).
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {
  override get [Runtime.errorExitCode](): number {
    return this.code
  }
  override get [Runtime.errorReported](): boolean {
    return false
  }
}

const writeStdout = (text: string): Effect.Effect<void, never, Stdio.Stdio> =>
  Effect.flatMap(Stdio.Stdio, (stdio) => Stream.make(`${text}\n`).pipe(Stream.run(stdio.stdout()))).pipe(
    Effect.orDie
  )

/** Run one decoded verb against the network's ports; the output is the JSON to print, if any. */
const runVerb = (request: PluginRequest): Effect.Effect<unknown, CniError | DomainError, PluginServices> =>
  request.command === "ADD"
    ? add(request)
    : request.command === "DEL"
      ? del(request)
      : request.command === "CHECK"
        ? check(request)
        : request.command === "GC"
          ? gc(request)
          : status(request)

/** Fields on every log line of one invocation: the network, and the owner when the verb has one. */
const annotationsOf = (request: PluginRequest): Record<string, string> => {
  const fields: Record<string, string> = { command: request.command, network: request.settings.network.name }
  if ("owner" in request) {
    fields.container = request.owner.containerId
    fields.ifname = request.owner.ifname
    if (request.owner.pod !== undefined) fields.pod = formatPod(request.owner.pod)
  }
  return fields
}

/**
 * A failed verb at warning: its CNI code and message (the line carries the owner's annotations).
 * Operators alert on these (docs/operator-guide.md), so every failure that reaches the runtime is
 * written, not only the unexpected ones.
 */
const logFailure = (request: PluginRequest, error: CniError) =>
  Effect.logWarning(
    `${request.command} ${request.settings.network.name} failed: code ${error.code}: ${error.msg}`
  ).pipe(
    Effect.annotateLogs({
      code: error.code,
      ...(error.details === undefined ? {} : { details: error.details })
    })
  )

/** VERSION: every supported spec version; stdin is not read (as libcni's skel). */
const versionReply = JSON.stringify(encodeVersionInfo(latestVersion, supportedVersions))

/**
 * The testable core of the plugin. Reads CNI_* through effect's Config (inject a ConfigProvider
 * in tests), stdin through Stdio, and the ports through PluginAdapters.
 *
 * - success: the result JSON (ADD) or nothing (DEL, CHECK, GC, STATUS) on stdout;
 * - failure: exactly one `{cniVersion, code, msg, details?}` on stdout, then `ExitCode(code)`
 *   (codes above 255 exit with 1);
 * - defect (a bug): the same with code 999 and exit status 1.
 * Logs never reach stdout: they go to the configured file or stderr.
 */
export const cniMain: Effect.Effect<void, ExitCode, Stdio.Stdio | PluginAdapters> = Effect.suspend(() => {
  let replyVersion: CniVersion = latestVersion
  // what is known of the request until it decodes: a refusal before then is logged from this
  let early: EarlyRequest | undefined = { command: "?" }
  const program = Effect.gen(function* () {
    const command = yield* readCommand
    early = { command }
    if (command === "VERSION") return versionReply
    const env = yield* readEnv(command)
    early = { command, containerId: env.containerId, ifname: env.ifname }
    const conf = readStdinConf(yield* readStdin())
    if (conf instanceof Error) return yield* conf
    replyVersion = conf.cniVersion
    early = { ...early, json: conf.json }
    const request = decodeRequest(env, conf)
    if (request instanceof Error) return yield* request
    early = undefined
    const adapters = yield* PluginAdapters
    const output = yield* runVerb(request).pipe(
      Effect.provide(adapters.layerFor(request.settings.adapters)),
      Effect.mapError((e) => (e._tag === "CniError" ? e : cniErrorOf(e))),
      Effect.tapError((e) => logFailure(request, e)),
      Effect.annotateLogs(annotationsOf(request)),
      withPluginLogger(request.settings.log)
    )
    return output === undefined ? undefined : JSON.stringify(output)
  })
  const fail = (error: CniError) =>
    (early === undefined ? Effect.void : logEarlyFailure(early, error)).pipe(
      Effect.andThen(writeStdout(JSON.stringify(encodeCniError(replyVersion, error)))),
      Effect.andThen(Effect.fail(new ExitCode({ code: exitStatusOf(error.code) })))
    )
  return program.pipe(
    Effect.catchTag("CniError", fail),
    Effect.flatMap((output) => (output === undefined ? Effect.void : writeStdout(output))),
    Effect.catchDefect((defect) =>
      fail(
        cniError(
          CniCode.internal,
          "internal error",
          defect instanceof Error ? (defect.stack ?? defect.message) : String(defect)
        )
      )
    )
  )
})
