// Builds the RouteTable and Attachments of one network from its decoded settings (production or memory).
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FileAttachments from "../../adapters/FileAttachments.ts"
import * as MemoryAttachments from "../../adapters/MemoryAttachments.ts"
import * as MemoryRouteTable from "../../adapters/MemoryRouteTable.ts"
import type { AdapterSettings } from "../../adapters/cni/CniRequest.ts"
import { Attachments, type AttachmentsError } from "../../domain/Attachments.ts"
import { RouteTable, RouteTableError } from "../../domain/RouteTable.ts"

/**
 * Where the plugin's two ports come from. The CNI core asks for them only after the config is
 * decoded (protocol, table, device, metric and dataDir are per network), so VERSION and every
 * invalid request never load netlink.
 */
export class PluginAdapters extends Context.Service<
  PluginAdapters,
  {
    /** The route table and attachment store for one network's settings; built per invocation. */
    layerFor(
      settings: AdapterSettings
    ): Layer.Layer<RouteTable | Attachments, RouteTableError | AttachmentsError>
  }
>()("routetable-ipam/PluginAdapters") {}

/**
 * Production: the kernel's routing table over rtnetlink (the module and its native addon are
 * imported only here, on first use) and attachment records under `<dataDir>/<network>/`.
 */
export const layer: Layer.Layer<PluginAdapters> = Layer.succeed(
  PluginAdapters,
  PluginAdapters.of({
    layerFor: (settings) =>
      Layer.mergeAll(
        Layer.unwrap(
          Effect.tryPromise({
            try: () => import("../../adapters/NetlinkRouteTable.ts"),
            catch: (cause) =>
              new RouteTableError({ operation: "load the netlink adapter", message: String(cause) })
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
        ),
        FileAttachments.layer(settings.dataDir)
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
  /** The settings of every `layerFor` call, in order. */
  readonly settingsSeen: () => ReadonlyArray<AdapterSettings>
}

/**
 * Build a memory node. The table uses `options` (protocol 192, table 254, metric 4096 unless
 * given), whatever the network's settings say, so state survives from ADD to DEL to CHECK.
 */
export const makeMemoryNode = (options?: MemoryRouteTable.Options): Effect.Effect<MemoryNode> =>
  Effect.gen(function* () {
    const table = yield* MemoryRouteTable.make(options)
    const store = yield* MemoryAttachments.make
    const seen: Array<AdapterSettings> = []
    const services = Context.make(RouteTable, table.table).pipe(Context.add(Attachments, store))
    return {
      adapters: PluginAdapters.of({
        layerFor: (settings) => {
          seen.push(settings)
          return Layer.succeedContext(services)
        }
      }),
      routes: { addOther: table.addOther, remove: table.remove, snapshot: table.snapshot },
      attachments: store,
      settingsSeen: () => [...seen]
    }
  })
