// Flags shared by the operator commands (effect/cli): durations, the network config, JSON output.
import { Flag } from "effect/cli"
import * as Option from "effect/Option"
import { parseDurationMs } from "../../adapters/DurationText.ts"

/** A boolean flag that is false unless given. */
export const switchFlag = (name: string, description: string): Flag.Flag<boolean> =>
  Flag.Boolean(name).pipe(Flag.withDescription(description), Flag.withDefault(false))

/** Why a duration flag's text was refused. */
export const notADuration = (text: string): string =>
  `${JSON.stringify(text)} is not a duration like 250ms, 1.5s, 5m or 1h (a bare number is milliseconds)`

/** A duration in milliseconds, read by the project's one parser (DurationText.ts). */
export const durationFlag = (name: string): Flag.Flag<number> =>
  Flag.String(name).pipe(
    Flag.withMetavar("DURATION"),
    Flag.filterMap((text) => Option.fromUndefinedOr(parseDurationMs(text)), notADuration)
  )

/** Several durations, comma-separated ("50ms,100ms,250ms"), in milliseconds. */
export const durationListFlag = (name: string): Flag.Flag<ReadonlyArray<number>> =>
  Flag.String(name).pipe(
    Flag.withMetavar("DURATION[,DURATION...]"),
    Flag.filterMap(
      (text) => {
        const parsed = text.split(",").map((part) => parseDurationMs(part))
        return parsed.every((ms) => ms !== undefined) && parsed.length > 0
          ? Option.some(parsed as ReadonlyArray<number>)
          : Option.none()
      },
      (text) => `${JSON.stringify(text)}: every comma-separated part must be a duration like 250ms or 1s`
    )
  )

/** `--config FILE|DIR`: the network config (.conf, .conflist) or a directory of them. */
export const configFlag = Flag.String("config").pipe(
  Flag.withMetavar("FILE|DIR"),
  Flag.withDescription(
    "a network config (.conf) or list (.conflist), or a directory of them (as /etc/cni/net.d): the plugin whose ipam type is routetable-ipam"
  )
)

/** `--network NAME`: which network, when several use routetable-ipam. */
export const networkFlag = (
  description = "the network of that name (when several use routetable-ipam)"
): Flag.Flag<Option.Option<string>> =>
  Flag.String("network").pipe(Flag.withMetavar("NAME"), Flag.withDescription(description), Flag.optional)

/** `--json`: one JSON object instead of text (the description says which). */
export const jsonFlag = (description: string): Flag.Flag<boolean> => switchFlag("json", description)

/** `--dry-run`: say what would change, change nothing. */
export const dryRunFlag = (description: string): Flag.Flag<boolean> => switchFlag("dry-run", description)

/** A multi-line description as effect/cli's help shows it (it indents only the first line itself). */
export const helpText = (text: string): string => text.replaceAll("\n", "\n  ")
