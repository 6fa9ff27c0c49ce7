// The plain bundle's outer layer: answers VERSION, else runs the program it carries as text, with its V8 code cache.
import programCodeCache from "routetable-ipam:program-code-cache"
import programSource from "routetable-ipam:program-source"
import { answerVersion } from "./answerVersion.ts"
import { runProgram } from "./runProgram.ts"

// Why the program is a string: Node compiles a script file as a whole before running it, and even
// functions that never run cost a pre-parse (about 20 ms for the ~700 KiB program on a 2-core
// machine, most of `node -e 0`); a string literal costs only a scan. And as a vm.Script it can use
// the code cache the build made (compiled functions of the CNI core's start, ~30 ms less per ADD).
// V8 rejects a cache made by another Node version or with other flags (then it compiles as usual).
// Both strings are part of this same root-owned file: nothing is read from a writable cache
// directory, so no other user can inject code through them.
if (process.env.CNI_COMMAND === "VERSION") {
  answerVersion()
} else {
  // the CommonJS wrapper's variables (scripts/build.ts's banner supplies them when Node runs this file as ESM)
  runProgram(programSource, programCodeCache === "" ? undefined : Buffer.from(programCodeCache, "base64"), {
    require,
    module,
    filename: __filename,
    dirname: __dirname
  })
}
