// Package entry "routetable-ipam/testing": in-memory adapters and the simulated multi-node fabric.

/** One node's routing table in memory: `MemoryRouteTable.layer()`, or `layerWithControl()` to seed and inspect it. */
export * as MemoryRouteTable from "./adapters/MemoryRouteTable.ts"
export { MemoryRouteTableControl } from "./adapters/MemoryRouteTable.ts"
/** Owner records in memory: `MemoryAttachments.layer`. */
export * as MemoryAttachments from "./adapters/MemoryAttachments.ts"
/** N simulated nodes whose claims reach each other after seeded delays: `Fabric.makeFabric(config).routeTableOf(i)`. */
export * as Fabric from "./adapters/fabric/Fabric.ts"
/** Propagation-delay distributions for the fabric: `DelayDistribution.parseDelay("0-200ms")`. */
export * as DelayDistribution from "./adapters/fabric/DelayDistribution.ts"
/** Discrete-event time: `new VirtualTime.VirtualTime().run(effect)` runs a simulation without waiting. */
export * as VirtualTime from "./adapters/fabric/VirtualTime.ts"
/** Seeds for the fabric: `SeededHash.seedOf("any text")`. */
export * as SeededHash from "./adapters/fabric/SeededHash.ts"
