// The virtual module scripts/build.ts fills with the netlink addon's bytes (base64) at bundle time.
declare module "routetable-ipam:netlink-addon-base64" {
  /** `node_modules/netlink/prebuilds/linux-x64/node.napi.node`, base64-encoded. */
  const addonBase64: string
  export default addonBase64
}
