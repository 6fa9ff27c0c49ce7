// Compiles and runs the program carried as text (bundle or SEA), with the build's V8 code cache when it fits.
import * as vm from "node:vm"

/**
 * Run the CommonJS program text as if it were this module: V8 pre-parses every function of a
 * script file, so the program travels as a string and is compiled only for verbs that need it.
 * A cache made by another Node version or flags is rejected by V8; the program then compiles as usual.
 */
export const runProgram = (
  source: string,
  codeCache: Buffer | undefined,
  host: {
    readonly require: NodeJS.Require
    readonly module: NodeJS.Module
    readonly filename: string
    readonly dirname: string
  }
): void => {
  const script = new vm.Script(source, {
    filename: host.filename,
    ...(codeCache === undefined || codeCache.length === 0 ? {} : { cachedData: codeCache })
  })
  const run = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: NodeJS.Module,
    filename: string,
    dirname: string
  ) => void
  run.call(host.module.exports, host.module.exports, host.require, host.module, host.filename, host.dirname)
}
