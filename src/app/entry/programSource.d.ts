// The virtual modules scripts/build.ts fills at bundle time: the whole program's text and its V8 code cache.
declare module "routetable-ipam:program-source" {
  /** The CommonJS bundle of src/app/main.ts wrapped as `(function (exports, require, module, __filename, __dirname) {...})`. */
  const programSource: string
  export default programSource
}

declare module "routetable-ipam:program-code-cache" {
  /** V8 code cache of `programSource` (base64), made by the building Node after a run of the CNI core's start. */
  const programCodeCache: string
  export default programCodeCache
}
