// The single executable: the CNI plugin when CNI_COMMAND is set, otherwise the operator commands.
import { answerVersion } from "./entry/answerVersion.ts"

// Start-up time is paid on every ADD, CHECK and DEL, so this file loads almost nothing itself:
// VERSION is answered here, and each mode's code is a dynamic import, which esbuild keeps inside
// the one bundle as lazily initialised modules whose top-level code runs only when imported.
const command = process.env.CNI_COMMAND
if (command === "VERSION") {
  answerVersion()
} else if (command !== undefined) {
  void import("./entry/cniEntry.ts").then((entry) => entry.runCni())
} else {
  void import("./entry/operatorEntry.ts").then((entry) => entry.runOperatorCommand(process.argv.slice(2)))
}
