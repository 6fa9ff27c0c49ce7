// Preloaded with `node -r` by bench/phases.ts: marks where one CNI call spends its wall time and CPU, one JSON line on stderr at exit.
// It loads nothing the program would not (fs and vm are loaded by every form anyway): node:net and
// node:fs/promises are hooked once the program has loaded them, so their load stays in the phase
// that paid for it.
"use strict"
const fs = require("node:fs")
const vm = require("node:vm")

const marks = []
const hooked = new Set()
let hooksReady = false
const cpu0 = { user: 0, system: 0 }
const mark = (name) => {
  const c = process.cpuUsage(cpu0)
  marks.push({ name, at: performance.now(), cpu: (c.user + c.system) / 1000 })
  if (hooksReady) hookLoaded()
}
// Node's own start: everything before this preload ran (bootstrap, options, pre-execution)
mark("node started (preload runs)")

const totals = { fsync: 0, fsyncs: 0, lockWait: 0, locks: 0 }

const OriginalScript = vm.Script
vm.Script = function Script(source, options) {
  mark("outer file read + compiled, program compile starts")
  const script = new OriginalScript(source, options)
  mark(
    `program compiled (code cache ${script.cachedDataRejected === true ? "REJECTED" : options?.cachedData ? "accepted" : "none"})`
  )
  const run = script.runInThisContext.bind(script)
  script.runInThisContext = (...args) => {
    const fn = run(...args)
    return (...fnArgs) => {
      const result = fn(...fnArgs)
      mark("program's top level ran (dynamic import of the CNI core pending)")
      return result
    }
  }
  return script
}

// the CNI core reads stdin through process.stdin (a pipe), fs.read (a file) or fs.readSync (FdStdio): mark the first
let stdinSeen = false
const stdinMark = () => {
  if (stdinSeen) return
  stdinSeen = true
  mark("CNI core loaded and started: stdin read begins")
}
const stdinDescriptor = Object.getOwnPropertyDescriptor(process, "stdin")
if (stdinDescriptor?.get !== undefined) {
  const get = stdinDescriptor.get
  Object.defineProperty(process, "stdin", {
    configurable: true,
    enumerable: stdinDescriptor.enumerable,
    get() {
      stdinMark()
      return get.call(process)
    }
  })
}
const originalRead = fs.read
fs.read = function (fd, ...rest) {
  if (fd === 0) stdinMark()
  return originalRead.call(this, fd, ...rest)
}
const originalReadSync = fs.readSync
fs.readSync = function (fd, ...rest) {
  if (fd === 0) stdinMark()
  return originalReadSync.call(this, fd, ...rest)
}

const originalDlopen = process.dlopen
process.dlopen = function (...args) {
  mark("config decoded, adapters built: netlink addon load starts")
  const result = originalDlopen.apply(this, args)
  mark("netlink addon loaded")
  return result
}

// fsync: blocking (fs.fsyncSync) or through a FileHandle of node:fs/promises (older builds)
const originalFsyncSync = fs.fsyncSync
fs.fsyncSync = function (...args) {
  const t = performance.now()
  try {
    return originalFsyncSync.apply(this, args)
  } finally {
    totals.fsync += performance.now() - t
    totals.fsyncs++
  }
}
const hookFileHandles = (fsp) =>
  fsp.open("/dev/null").then((handle) => {
    const proto = Object.getPrototypeOf(handle)
    const originalSync = proto.sync
    proto.sync = async function () {
      const t = performance.now()
      try {
        return await originalSync.call(this)
      } finally {
        totals.fsync += performance.now() - t
        totals.fsyncs++
      }
    }
    return handle.close()
  })

// the node lock binds with an exclusive listen, which Node (and, since the lock skips cluster, the
// lock itself) performs through Server.prototype._listen2(address, ...): time it from there
const hookListen = (net) => {
  const originalListen2 = net.Server.prototype._listen2
  net.Server.prototype._listen2 = function (...args) {
    const t = performance.now()
    const address = args[0]
    if (typeof address === "string" && address.startsWith("\0")) {
      // first in line: the lock's own listener runs the locked section on, synchronously
      this.prependOnceListener("listening", () => {
        totals.lockWait += performance.now() - t
        totals.locks++
      })
    }
    return originalListen2.apply(this, args)
  }
}

// hook each module once the program has loaded it (checked at every mark and every builtin lookup)
function hookLoaded() {
  if (!hooksReady) return
  const loaded = process.moduleLoadList
  for (const [id, hook] of [
    ["net", hookListen],
    ["fs/promises", hookFileHandles]
  ]) {
    if (!hooked.has(id) && loaded.includes(`NativeModule ${id}`)) {
      hooked.add(id)
      hook(require(`node:${id}`))
    }
  }
}
const originalGetBuiltin = process.getBuiltinModule
process.getBuiltinModule = function (...args) {
  const result = originalGetBuiltin.apply(this, args)
  hookLoaded()
  return result
}
hooksReady = true
const Module = require("node:module")
const originalRequire = Module.prototype.require
Module.prototype.require = function (...args) {
  const result = originalRequire.apply(this, args)
  hookLoaded()
  return result
}

process.on("exit", () => {
  mark("exit")
  const out = { marks, totals }
  fs.writeSync(2, `\n${JSON.stringify(out)}\n`)
})
