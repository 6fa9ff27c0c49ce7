// Builds the RouteTable, Attachments and FabricHealth of one network from its decoded settings (production or memory).
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as AbstractSocketNodeLock from "../../adapters/AbstractSocketNodeLock.ts"
import * as FileAddOutcomes from "../../adapters/FileAddOutcomes.ts"
import * as FileAttachments from "../../adapters/FileAttachments.ts"
import * as MemoryAddOutcomes from "../../adapters/MemoryAddOutcomes.ts"
import * as MemoryAttachments from "../../adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../adapters/MemoryRouteTable.ts"
import * as NoFabricHealth from "../../adapters/NoFabricHealth.ts"
import type { AdapterSettings } from "../../adapters/cni/NetworkSettings.ts"
import type { FabricHealthSettings } from "../../adapters/cni/IpamKnobs.ts"
import { AddOutcomes, type AddOutcomesService } from "../../domain/AddOutcomes.ts"
import { Attachments, type AttachmentsError } from "../../domain/Attachments.ts"
import { FabricHealth, FabricHealthError, type FabricReport } from "../../domain/FabricHealth.ts"
import { makeInProcessLock, NodeLock } from "../../domain/NodeLock.ts"
import { RouteTable, RouteTableError } from "../../domain/RouteTable.ts"

/** The services every verb runs against. */
export type PluginServices = RouteTable | Attachments | FabricHealth

/**
 * Where the plugin's ports come from. The CNI core asks for them only after the config is
 * decoded (protocol, table, device, metric, dataDir and fabric health are per network), so
 * VERSION and every invalid request never load netlink or the BIRD client.
 */
export class PluginAdapters extends Context.Service<
  PluginAdapters,
  {
    /** The route table, attachment store and fabric health for one network's settings; built per invocation. */
    layerFor(settings: AdapterSettings): Layer.Layer<PluginServices, RouteTableError | AttachmentsError>
  }
>()("routetable-ipam/PluginAdapters") {}

/**
 * Production fabric health: none, or BIRD's control socket (its module imported on first use).
 * A module that cannot be loaded gives a FabricHealth whose every check fails, so ADD refuses (11).
 */
const fabricHealthLayer = (settings: FabricHealthSettings): Layer.Layer<FabricHealth> => {
  if (settings.type === "none") return NoFabricHealth.layer
  const { type: _, ...options } = settings
  return Layer.unwrap(
    Effect.promise(() =>
      import("../../adapters/BirdFabricHealth.ts").then(
        (bird) => bird.layer(options),
        (cause: unknown) =>
          Layer.succeed(
            FabricHealth,
            FabricHealth.of({
              check: Effect.fail(
                new FabricHealthError({ message: `cannot load the BIRD adapter: ${String(cause)}` })
              )
            })
          )
      )
    )
  )
}

/** Which of our routes a table holds: the per-network settings of the netlink adapter. */
export type RouteTableSettings = Pick<AdapterSettings, "protocol" | "table" | "metric" | "device">

/**
 * The kernel's routing table over rtnetlink. The module and its native addon are imported only
 * when the layer is built, so VERSION and invalid requests never load them. Building it never
 * needs `device` to exist: only an insert looks it up (DEL, GC, STATUS, list and gc work without).
 * Every netlink request is bounded by the adapter's default timeouts.
 */
export const netlinkRouteTable = (settings: RouteTableSettings): Layer.Layer<RouteTable, RouteTableError> =>
  Layer.unwrap(
    Effect.tryPromise({
      try: () => import("../../adapters/NetlinkRouteTable.ts"),
      catch: (cause) => new RouteTableError({ operation: "load the netlink adapter", message: String(cause) })
    }).pipe(
      Effect.map((netlink) =>
        netlink.layer({
          protocol: settings.protocol,
          table: settings.table,
          metric: settings.metric,
          ...(settings.device === undefined ? {} : { device: settings.device })
        })
      )
    )
  )

/** Production: the kernel's routing table, attachment records under `<dataDir>/<network>/`, the node lock. */
export const layer: Layer.Layer<PluginAdapters> = Layer.succeed(
  PluginAdapters,
  PluginAdapters.of({
    layerFor: (settings) =>
      Layer.mergeAll(
        netlinkRouteTable(settings),
        FileAttachments.layer(settings.dataDir),
        fabricHealthLayer(settings.fabricHealth),
        AbstractSocketNodeLock.layer({ dataDir: settings.dataDir }),
        FileAddOutcomes.layer(settings.dataDir)
      )
  })
)

/** A memory node for tests and embedding: one table and one store shared by every invocation. */
export interface MemoryNode {
  readonly adapters: PluginAdapters["Service"]
  /** Seed and inspect the shared table. */
  readonly routes: MemoryRouteTable.Control
  /** The shared store. */
  readonly attachments: Attachments["Service"]
  /** What every fabric health check answers from now on (healthy until set). */
  readonly setFabricHealth: (answer: FabricReport | FabricHealthError) => Effect.Effect<void>
  /** The ADD outcome counters every invocation adds to. */
  readonly outcomes: AddOutcomesService
  /** The settings of every `layerFor` call, in order. */
  readonly settingsSeen: () => ReadonlyArray<AdapterSettings>
}

/**
 * Build a memory node. The table uses `options` (protocol 192, table 254, metric 4096 unless
 * given), whatever the network's settings say, so state survives from ADD to DEL to CHECK.
 * Fabric health answers what `setFabricHealth` last set, whatever `fabricHealth` the config names.
 */
export const makeMemoryNode = (options?: MemoryRouteTable.Options): Effect.Effect<MemoryNode> =>
  Effect.gen(function* () {
    const table = yield* MemoryRouteTable.make(options)
    const store = yield* MemoryAttachments.make
    const seen: Array<AdapterSettings> = []
    const outcomes = MemoryAddOutcomes.make()
    const health = yield* Ref.make<FabricReport | FabricHealthError>(NoFabricHealth.report)
    const check = Effect.flatMap(Ref.get(health), (answer) =>
      answer instanceof FabricHealthError ? Effect.fail(answer) : Effect.succeed(answer)
    )
    const services = Context.make(RouteTable, table.table).pipe(
      Context.add(Attachments, store),
      Context.add(FabricHealth, FabricHealth.of({ check })),
      Context.add(NodeLock, makeInProcessLock()),
      Context.add(AddOutcomes, outcomes)
    )
    return {
      adapters: PluginAdapters.of({
        layerFor: (settings) => {
          seen.push(settings)
          return Layer.succeedContext(services)
        }
      }),
      routes: { addOther: table.addOther, remove: table.remove, snapshot: table.snapshot },
      attachments: store,
      setFabricHealth: (answer) => Ref.set(health, answer),
      outcomes,
      settingsSeen: () => [...seen]
    }
  })
