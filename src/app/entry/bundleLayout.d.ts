// The virtual module scripts/build.ts fills at bundle time: where the payload line lies in the bundle's file.
declare module "routetable-ipam:bundle-layout" {
  /** The layout `encodeBundlePayload` made for this build's program, code cache and addon. */
  const bundleLayout: import("./bundlePayload.ts").BundleLayout
  export default bundleLayout
}
