// `routetable-ipam demo` in the command line: its flags, and demo.ts's own run (loaded only when invoked).
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import { switchFlag } from "./CliFlags.ts"

/** demo.ts keeps its argument handling; this only declares the flags it reads and hands them back. */
export const demoCommand = Command.make(
  "demo",
  {
    simulate: switchFlag("simulate", "run a small simulated cluster instead of the plugin in a namespace"),
    insidePrivateNamespace: Flag.Boolean("inside-private-namespace").pipe(
      Flag.withDefault(false),
      Flag.withHidden
    )
  },
  ({ simulate, insidePrivateNamespace }) =>
    Effect.gen(function* () {
      const demo = yield* Effect.promise(() => import("./demo.ts"))
      yield* demo.command.run([
        ...(simulate ? ["--simulate"] : []),
        ...(insidePrivateNamespace ? ["--inside-private-namespace"] : [])
      ])
    })
).pipe(
  Command.withShortDescription(
    "allocate through the real plugin in a throwaway network namespace (or simulate a cluster)"
  ),
  Command.withDescription(
    "Shows the plugin doing its job with no setup: in a throwaway network namespace (`unshare -rn`) this executable runs as a CNI plugin (three dual-stack ADDs, their routes, a CHECK, a refused request for a taken address, DEL of everything). Without namespaces, or with --simulate, a simulated cluster of 20 nodes instead. The host's routing table is never touched."
  )
)
