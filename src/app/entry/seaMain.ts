// The single executable's main: answers VERSION, else runs the program asset with its V8 code cache.
import * as sea from "node:sea"
import { answerVersion } from "./answerVersion.ts"
import { runProgram } from "./runProgram.ts"
import { programAsset, programCodeCacheAsset } from "./seaAssets.ts"

// As in bundleMain.ts: VERSION never compiles the ~700 KiB program, and the other verbs compile it
// with the code cache the build made after a run of the CNI core's start (SEA's own
// `useCodeCache` only holds functions compiled before anything ran). Both assets are part of the
// executable file itself.
if (process.env.CNI_COMMAND === "VERSION") {
  answerVersion()
} else {
  // the SEA main's require loads built-in modules only: all the program needs (the rest is bundled)
  runProgram(sea.getAsset(programAsset, "utf8"), Buffer.from(sea.getRawAsset(programCodeCacheAsset)), {
    require,
    module,
    filename: __filename,
    dirname: __dirname
  })
}
