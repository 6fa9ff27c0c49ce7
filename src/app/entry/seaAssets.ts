// Names of the SEA assets that carry the program and its V8 code cache (scripts/build-sea.ts writes them).

/** The program: src/app/main.ts bundled and wrapped as a function of the CommonJS wrapper's variables. */
export const programAsset = "program.js"

/** V8 code cache of `programAsset`, made by the embedded Node binary; empty when none was made. */
export const programCodeCacheAsset = "program.cache"
