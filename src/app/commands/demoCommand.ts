// `routetable-ipam demo` in the command line: its flags, and demo.ts's own run (loaded only when invoked).
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { switchFlag } from "./CliFlags.ts"

/** demo.ts keeps its argument handling; this only declares the flags it reads and hands them back. */
export const demoCommand = Command.make(
  "demo",
  {
    topology: Flag.String("topology").pipe(
      Flag.withMetavar("routed|overlay"),
      Flag.withDescription("as root: how the 3 nodes' pods reach each other (default routed)"),
      Flag.optional
    ),
    namespace: switchFlag(
      "namespace",
      "the one-node demo: the real plugin in one throwaway network namespace"
    ),
    simulate: switchFlag("simulate", "run a small simulated cluster instead of the plugin in a namespace"),
    insidePrivateNamespace: Flag.Boolean("inside-private-namespace").pipe(
      Flag.withDefault(false),
      Flag.withHidden
    )
  },
  ({ topology, namespace, simulate, insidePrivateNamespace }) =>
    Effect.gen(function* () {
      const demo = yield* Effect.promise(() => import("./demo.ts"))
      yield* demo.command.run([
        ...(Option.isSome(topology) ? ["--topology", topology.value] : []),
        ...(namespace ? ["--namespace"] : []),
        ...(simulate ? ["--simulate"] : []),
        ...(insidePrivateNamespace ? ["--inside-private-namespace"] : [])
      ])
    })
).pipe(
  Command.withShortDescription(
    "pods on a 3-node cluster through the real plugin (root), one throwaway namespace, or a simulation"
  ),
  Command.withDescription(
    "Shows the plugin doing its job with no setup. As root, run from the repository with BIRD 2, ping and Debian's CNI plugins: a 3-node cluster of network namespaces, two pods per node through Debian's bridge plugin with this executable as the IPAM, who got which address, what each node's table learned and a ping matrix, then everything torn down (--topology overlay: the nodes' bridges joined over vxlan). --namespace: three dual-stack ADDs in one throwaway namespace, their routes, a CHECK, a refused request, DEL. Without root, or with --simulate: a simulated cluster of 20 nodes. The host's own network is never touched."
  )
)
