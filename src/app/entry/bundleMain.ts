// The plain bundle's outer layer: answers VERSION, else reads its payload (program text, V8 code cache, addon) from its own file's tail and runs the program.
import bundleLayout from "routetable-ipam:bundle-layout"
import { answerVersion } from "./answerVersion.ts"
import { readBundlePayload } from "./bundlePayload.ts"
import { reportDamagedBundle } from "./damagedBundle.ts"
import { runProgram } from "./runProgram.ts"

// Why the program is not plain code: Node compiles a script file as a whole before running it,
// and even functions that never run cost a pre-parse (about 20 ms for the ~900 KiB program on a
// 2-core machine, most of `node -e 0`). And as a vm.Script it can use the code cache the build
// made (everything a training ADD compiled). Why it is not a string literal either: V8 scans and
// builds every string literal of the file (~25 ms for the 2.4 MiB of program and cache); the
// payload sits in a line comment at the end of this same file instead (bundlePayload.ts), which
// V8 skips, and is read back as bytes. V8 rejects a cache made by another Node version or with
// other flags (then the program compiles as usual). Everything comes from this same root-owned
// file: nothing is read from a writable cache directory, so no other user can inject code.
if (process.env.CNI_COMMAND === "VERSION") {
  answerVersion()
} else {
  // __filename: the CommonJS wrapper's variable (scripts/build.ts's banner sets it to argv[1] under ESM)
  let payload: ReturnType<typeof readBundlePayload> | undefined
  try {
    payload = readBundlePayload(__filename, bundleLayout)
  } catch (error) {
    reportDamagedBundle(__filename, error)
  }
  if (payload !== undefined) {
    const { addonBytes } = payload
    // the program's embedded addon loader (src/app/nativeAddon/embeddedNetlinkAddon.ts) asks its host for the bytes
    const host = Object.assign(
      (id: string): unknown =>
        id === "routetable-ipam:netlink-addon" ? { netlinkAddonBytes: addonBytes } : require(id),
      require
    )
    runProgram(payload.program, payload.codeCache, {
      require: host,
      module,
      filename: __filename,
      dirname: __dirname
    })
  }
}
