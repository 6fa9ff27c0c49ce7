// The parts of the `netlink` package the route table uses, from its own modules: its index also loads genl, nl80211 and wg.
// (Their top-level code ran on every CNI call, and their ~250 KiB were read, compiled and cached in every bundle.)
// Not its rt index either (rt/rt.js, rt/structs.js): they evaluate the codecs of every rtnetlink family (RtMessages.ts).
export { FlagsGet, FlagsNew, MessageType, Protocol } from "netlink/dist/constants.js"
export { createNetlink } from "netlink/dist/netlink.js"
export * as rt from "./RtMessages.ts"
export { AttrStream, type NetlinkMessage, parseError } from "netlink/dist/structs.js"
