// The parts of the `netlink` package the route table uses, from its own modules: its index also loads genl, nl80211 and wg.
// (Their top-level code ran on every CNI call, and their ~250 KiB were read, compiled and cached in every bundle.)
export { FlagsGet, FlagsNew, MessageType } from "netlink/dist/constants.js"
export { createRtNetlink } from "netlink/dist/rt/rt.js"
export * as rt from "netlink/dist/rt/structs.js"
export type * as ifla from "netlink/dist/rt/ifla.js"
export { AttrStream, type NetlinkMessage, parseError } from "netlink/dist/structs.js"
