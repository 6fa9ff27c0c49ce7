// Package entry "routetable-ipam/netlink": the production adapters (kernel routing table, files, BIRD).
// Importing this module loads the `netlink` native addon.

/** The RouteTable port over rtnetlink: `NetlinkRouteTable.layer({ protocol, table, device, metric })`. */
export * as NetlinkRouteTable from "./adapters/NetlinkRouteTable.ts"
/** The Attachments port on files, one per attachment, replaced atomically: `FileAttachments.layer(dataDir)`. */
export * as FileAttachments from "./adapters/FileAttachments.ts"
/** The node lock shared by every process of a node (an abstract unix socket): `AbstractSocketNodeLock.layer({ dataDir })`. */
export * as AbstractSocketNodeLock from "./adapters/AbstractSocketNodeLock.ts"
/** FabricHealth from BIRD 2's control socket: `BirdFabricHealth.layer({ socket, minEstablished })`. */
export * as BirdFabricHealth from "./adapters/BirdFabricHealth.ts"
/** FabricHealth that asks nobody and always reports healthy. */
export * as NoFabricHealth from "./adapters/NoFabricHealth.ts"
