// The module the plain bundle's outer layer (src/app/entry/bundleMain.ts) hands the program: the netlink addon's bytes.
declare module "routetable-ipam:netlink-addon" {
  /** `node_modules/netlink/prebuilds/linux-x64/node.napi.node`, decoded from the bundle's payload on the first call. */
  export const netlinkAddonBytes: () => Uint8Array
}
