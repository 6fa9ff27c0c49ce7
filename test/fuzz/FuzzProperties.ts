// What every answer to a fuzz case must satisfy, at both levels: one JSON document, status = code, an allowed code.
import { exitStatusOf } from "../../src/adapters/cni/CniError.ts"
import type { FuzzCase } from "./FuzzCases.ts"

/** Whether the larger soak runs are on (SOAK=1). */
export const soak = process.env.SOAK === "1"

/** Every code of the spec's table and ours (docs/errors.md); 999 (a bug) is not among them. */
export const documentedCodes = [1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 100, 101, 102, 103]

/** The error object on stdout, or what is wrong with the answer. */
export const checkAnswer = (fuzz: FuzzCase, status: number, stdout: string): string | undefined => {
  const lines = stdout.split("\n").filter((line) => line !== "")
  const context = `${fuzz.fault}: exit ${status}, stdout ${JSON.stringify(stdout.slice(0, 400))}`
  if (status === 0) {
    const verb = fuzz.command
    if (verb !== "ADD")
      return stdout === "" ? allowed(fuzz, 0, context) : `stdout must be empty on success; ${context}`
    if (lines.length !== 1 || !stdout.endsWith("\n")) return `expected one JSON line; ${context}`
    const result = parse(lines[0]!)
    if (result === undefined || !Array.isArray(result.ips) || result.ips.length === 0)
      return `not a result; ${context}`
    if ("code" in result) return `a result with a code; ${context}`
    // a 1.1.0 result must not carry numbers JSON cannot hold (they print as null)
    if (lines[0]!.includes("null")) return `null in a result; ${context}`
    return allowed(fuzz, 0, context)
  }
  if (lines.length !== 1) return `expected exactly one JSON document; ${context}`
  const error = parse(lines[0]!)
  if (error === undefined) return `stdout is not a JSON object; ${context}`
  if (typeof error.code !== "number" || typeof error.msg !== "string" || typeof error.cniVersion !== "string")
    return `not a CNI error object; ${context}`
  if (exitStatusOf(error.code) !== status)
    return `exit status ${status} does not match code ${error.code}; ${context}`
  if (!documentedCodes.includes(error.code)) return `code ${error.code} is not in the table; ${context}`
  if (String(error.details ?? "").includes("    at ")) return `a stack trace in details; ${context}`
  return allowed(fuzz, error.code, context)
}

const allowed = (fuzz: FuzzCase, code: number, context: string): string | undefined =>
  fuzz.codes.includes(code)
    ? undefined
    : `code ${code} is not one of ${JSON.stringify(fuzz.codes)} for this fault; ${context}`

const parse = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** Inputs per second, printed for the closing note of issue 12. */
export const reportRate = (level: string, inputs: number, millis: number): void => {
  console.log(
    `fuzz ${level}: ${inputs} inputs in ${(millis / 1000).toFixed(1)} s = ${((inputs * 1000) / millis).toFixed(0)} inputs/s`
  )
}
