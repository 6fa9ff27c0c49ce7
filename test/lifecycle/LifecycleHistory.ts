// Runs one random history of ADD, DEL, CHECK, CNI GC, operator gc, crashes, reboots and session drops on a simulated cluster, checking the lifecycle invariants after every step.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Semaphore from "effect/Semaphore"
import * as MemoryAttachments from "../../src/adapters/MemoryAttachments.ts"
import { makeFabric, type SessionDrop } from "../../src/adapters/fabric/Fabric.ts"
import { VirtualTime } from "../../src/adapters/fabric/VirtualTime.ts"
import type { Assigned, Owner } from "../../src/domain/Attach.ts"
import { Attachments } from "../../src/domain/Attachments.ts"
import { defaultClaimPolicy } from "../../src/domain/ClaimPolicy.ts"
import type { CollectionRequest } from "../../src/domain/Collection.ts"
import type { FabricHealthError, FabricReport } from "../../src/domain/FabricHealth.ts"
import { formatIp, type Ip, keyOf } from "../../src/domain/Ip.ts"
import type { Network } from "../../src/domain/Network.ts"
import { makeInProcessLock, NodeLock } from "../../src/domain/NodeLock.ts"
import { InvalidPool, makePool, nthAllocatable } from "../../src/domain/Pool.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"

/** One thing that happens at `at` ms on `node`. `crash`: the process dies before its n-th port call. */
export type Step =
  | {
      readonly op: "add"
      readonly at: number
      readonly node: number
      readonly container: number
      readonly request?: number
      readonly crash?: number
    }
  | {
      readonly op: "del"
      readonly at: number
      readonly node: number
      readonly container: number
      readonly hint: boolean
      readonly crash?: number
    }
  | { readonly op: "check"; readonly at: number; readonly node: number; readonly container: number }
  | { readonly op: "cniGc"; readonly at: number; readonly node: number; readonly crash?: number }
  | {
      readonly op: "gc"
      readonly at: number
      readonly node: number
      readonly keep: boolean
      readonly graceMillis: number
      readonly crash?: number
    }
  | { readonly op: "reboot"; readonly at: number; readonly node: number }

/** A whole history: a cluster, its fabric and what happens in it. */
export interface History {
  readonly nodes: number
  readonly seed: number
  /** A small subnet, so that addresses are contended: e.g. "100.64.0.0/29". */
  readonly subnet: string
  /** A second pool (IPv6), so every ADD claims two addresses concurrently, as dual stack does. */
  readonly subnet6?: string | undefined
  /** Record writes take 1-2 ms (as file writes do), so overlapping writes of one record can reorder. */
  readonly slowWrites?: boolean | undefined
  /**
   * A listing of the table takes longer than W (as a dump of a table with many routes does), so a
   * GC's plan can be a whole ADD old by the time it acts on it.
   */
  readonly slowListings?: boolean | undefined
  /** W, ms. */
  readonly wait: number
  /** D: every message arrives within this many ms (D <= W keeps the race safe). */
  readonly maxDelay: number
  readonly drops: ReadonlyArray<SessionDrop>
  readonly steps: ReadonlyArray<Step>
}

/** The lifecycle under test: the domain's, or (for negative controls) another one. */
export interface Lifecycle {
  readonly attach: (
    network: Network,
    owner: Owner,
    requested: ReadonlyArray<Ip>,
    fabric: Effect.Effect<FabricReport, FabricHealthError> | undefined
  ) => Effect.Effect<ReadonlyArray<Assigned>, unknown, RouteTable | Attachments>
  readonly detach: (
    network: Network,
    owner: Owner,
    hint: ReadonlyArray<Ip>
  ) => Effect.Effect<void, unknown, RouteTable | Attachments>
  readonly check: (
    network: Network,
    owner: Owner,
    expected: ReadonlyArray<Ip>
  ) => Effect.Effect<void, { readonly _tag: string; readonly reason?: string }, RouteTable | Attachments>
  readonly collect: (
    network: Network,
    request: CollectionRequest
  ) => Effect.Effect<unknown, unknown, RouteTable | Attachments>
  /** Ask the fabric before each claim and at each verdict (the partition-aware verdict). */
  readonly watchFabric: boolean
}

/** What a history did; `violations` is empty when every invariant held after every step. */
export interface HistoryReport {
  readonly violations: ReadonlyArray<string>
  readonly counts: Readonly<Record<string, number>>
}

class ProcessKilled extends Error {
  constructor() {
    super("process killed")
  }
}

/** A CNI invocation's process: its port calls stop having effects once it is dead. */
interface Process {
  alive: boolean
  budget: number
  readonly node: number
}

type ContainerState =
  | { readonly _tag: "absent" }
  | { readonly _tag: "adding" }
  | { readonly _tag: "live"; readonly addresses: ReadonlyArray<Ip> }
  | { readonly _tag: "deleting" }
  /** A failed or crashed ADD/DEL, or a sandbox of before a reboot: the runtime will DEL it. */
  | { readonly _tag: "needsDel"; readonly hint: ReadonlyArray<Ip> }

const killed = () => Effect.die(new ProcessKilled())

/** Run a history; synchronous and deterministic. */
export const runHistory = (history: History, lifecycle: Lifecycle): HistoryReport => {
  const pool = makePool("pool", [{ subnet: history.subnet }])
  const pool6 = history.subnet6 === undefined ? undefined : makePool("pool6", [{ subnet: history.subnet6 }])
  if (pool6 instanceof InvalidPool) throw new Error(pool6.message)
  if (pool instanceof InvalidPool) throw new Error(pool.message)
  const network: Network = {
    name: "pods",
    pools: pool6 === undefined ? [pool] : [pool, pool6],
    policy: {
      ...defaultClaimPolicy,
      propagationTimeout: Duration.millis(history.wait),
      backoffInitial: Duration.millis(20),
      backoffMax: Duration.millis(400),
      maxAttempts: 6,
      probes: 16
    }
  }
  const fabric = makeFabric({
    nodes: history.nodes,
    delay: { _tag: "Uniform", min: 0, max: history.maxDelay },
    seed: history.seed,
    drops: history.drops
  })
  const time = new VirtualTime()
  const violations: Array<string> = []
  const counts: Record<string, number> = {}
  const count = (what: string) => {
    counts[what] = (counts[what] ?? 0) + 1
  }
  const containers = new Map<string, ContainerState>()
  const containerLocks = new Map<string, Semaphore.Semaphore>()
  const processes: Array<Process> = []
  const nameOf = (node: number, container: number) => `n${node}c${container}`
  const stateOf = (node: number, container: number): ContainerState =>
    containers.get(nameOf(node, container)) ?? { _tag: "absent" }
  const lockOf = (node: number, container: number) => {
    const key = nameOf(node, container)
    let lock = containerLocks.get(key)
    if (lock === undefined) {
      lock = Semaphore.makeUnsafe(1)
      containerLocks.set(key, lock)
    }
    return lock
  }

  const stores = Array.from({ length: history.nodes }, () =>
    Effect.runSync(MemoryAttachments.makeWithControl)
  )
  const nodeLocks = Array.from({ length: history.nodes }, () => makeInProcessLock())
  const tables = Array.from({ length: history.nodes }, (_, i) => fabric.routeTableOf(i))

  /** The ports as one process of `node` sees them: dead processes change nothing. */
  const servicesOf = (process: Process) => {
    const guard = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.suspend(() => {
        if (!process.alive) return killed()
        if (--process.budget < 0) {
          process.alive = false
          return killed()
        }
        return effect
      })
    const table = tables[process.node]!
    const store = stores[process.node]!.store
    return Context.make(
      RouteTable,
      RouteTable.of({
        routesTo: (host) => guard(table.routesTo(host)),
        isTaken: (host) => guard(table.isTaken(host)),
        hostRoutesIn: (prefix) =>
          history.slowListings === true
            ? Effect.andThen(
                Effect.sleep(Duration.millis(history.wait + 1)),
                guard(table.hostRoutesIn(prefix))
              )
            : guard(table.hostRoutesIn(prefix)),
        claim: (host) => guard(table.claim(host)),
        release: (host) => guard(table.release(host)),
        sourceTowards: (peer) => guard(table.sourceTowards(peer))
      })
    ).pipe(
      Context.add(
        Attachments,
        Attachments.of({
          get: (key) => guard(store.get(key)),
          // a write takes time, as a file write does: overlapping writes of one record can land in
          // any order unless the writer serialises them
          put: (record) =>
            guard(
              Effect.andThen(
                Effect.sleep(Duration.millis(1 + (record.pending.length % 2))),
                store.put(record)
              )
            ),
          remove: (key) => guard(store.remove(key)),
          list: (name) => guard(store.list(name)),
          quarantined: (name) => guard(store.quarantined(name)),
          boot: guard(store.boot)
        })
      ),
      Context.add(NodeLock, nodeLocks[process.node]!)
    )
  }

  const spawn = (node: number, crash: number | undefined): Process => {
    const process: Process = { alive: true, budget: crash ?? Number.POSITIVE_INFINITY, node }
    processes.push(process)
    return process
  }

  /** Invariants 1 and 2 of DESIGN.md, over the runtime's view of which containers are live. */
  const checkInvariants = (when: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const holders = new Map<string, string>()
      const own = new Set(fabric.ownRoutes().map((r) => `${r.node} ${keyOf(r.host)}`))
      for (const [name, state] of containers) {
        if (state._tag !== "live") continue
        const node = Number(name.slice(1, name.indexOf("c")))
        for (const address of state.addresses) {
          const key = keyOf(address)
          const other = holders.get(key)
          if (other !== undefined) {
            violations.push(`t=${now} ${when}: ${formatIp(address)} is held by live ${other} and ${name}`)
          }
          holders.set(key, name)
          if (!own.has(`${node} ${key}`)) {
            violations.push(
              `t=${now} ${when}: live ${name}'s ${formatIp(address)} has no route of ours on n${node}`
            )
          }
        }
      }
    })

  const runStep = (step: Step): Effect.Effect<void> => {
    if (step.op === "reboot") {
      return Effect.gen(function* () {
        count("reboot")
        for (const process of processes) if (process.node === step.node) process.alive = false
        for (const route of fabric.ownRoutes()) {
          if (route.node === step.node) yield* Effect.orDie(tables[step.node]!.release(route.host))
        }
        yield* stores[step.node]!.reboot
        for (const [name, state] of containers) {
          if (name.startsWith(`n${step.node}c`) && state._tag !== "absent") {
            containers.set(name, { _tag: "needsDel", hint: state._tag === "live" ? state.addresses : [] })
          }
        }
      })
    }
    if (step.op === "cniGc" || step.op === "gc") {
      return Effect.gen(function* () {
        const valid: Array<Owner> = []
        for (const [name, state] of containers) {
          if (name.startsWith(`n${step.node}c`) && (state._tag === "live" || state._tag === "adding")) {
            valid.push({ containerId: name, ifname: "eth0" })
          }
        }
        const request: CollectionRequest =
          step.op === "cniGc"
            ? { valid, graceMillis: 0 }
            : step.keep
              ? { valid, graceMillis: step.graceMillis }
              : { graceMillis: step.graceMillis }
        const process = spawn(step.node, step.crash)
        const exit = yield* Effect.exit(
          lifecycle.collect(network, request).pipe(Effect.provideContext(servicesOf(process)))
        )
        count(`${step.op}:${Exit.isSuccess(exit) ? "ok" : process.alive ? "failed" : "crashed"}`)
      })
    }
    const { node, container } = step
    const owner: Owner = { containerId: nameOf(node, container), ifname: "eth0" }
    return lockOf(node, container)
      .withPermits(1)(
        Effect.gen(function* () {
          const state = stateOf(node, container)
          if (step.op === "check") {
            if (state._tag !== "live") return
            const process = spawn(node, undefined)
            const exit = yield* Effect.exit(
              lifecycle
                .check(network, owner, state.addresses)
                .pipe(Effect.provideContext(servicesOf(process)))
            )
            count(`check:${Exit.isSuccess(exit) ? "ok" : "failed"}`)
            if (Exit.isFailure(exit)) {
              const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
              const error =
                failure?._tag === "Fail" ? (failure.error as { _tag: string; reason?: string }) : undefined
              const reason = error?.reason ?? ""
              if (
                error?._tag === "AttachmentUnknown" ||
                /missing|not recorded|never completed/.test(reason)
              ) {
                const now = yield* Clock.currentTimeMillis
                violations.push(`t=${now} CHECK of live ${owner.containerId}: ${error?._tag} ${reason}`)
              }
            }
            return
          }
          // a runtime DELs a failed or stale sandbox before anything else happens to it; an ADD of a
          // live container is a repeated ADD
          if (step.op === "del" || state._tag === "needsDel") {
            const known =
              state._tag === "live" ? state.addresses : state._tag === "needsDel" ? state.hint : []
            containers.set(owner.containerId, { _tag: "deleting" })
            const process = spawn(node, step.crash)
            const exit = yield* Effect.exit(
              lifecycle
                .detach(network, owner, step.op === "del" && !step.hint ? [] : known)
                .pipe(Effect.provideContext(servicesOf(process)))
            )
            const ok = Exit.isSuccess(exit)
            count(`del:${ok ? "ok" : process.alive ? "failed" : "crashed"}`)
            containers.set(owner.containerId, ok ? { _tag: "absent" } : { _tag: "needsDel", hint: known })
            yield* checkInvariants(`after DEL ${owner.containerId}`)
            return
          }
          const requested =
            step.request === undefined ? [] : [nthAllocatable(pool, BigInt(step.request) % pool.size)]
          containers.set(owner.containerId, { _tag: "adding" })
          const process = spawn(node, step.crash)
          const exit = yield* Effect.exit(
            lifecycle
              .attach(
                network,
                owner,
                requested,
                lifecycle.watchFabric ? fabric.healthOf(node).check : undefined
              )
              .pipe(Effect.provideContext(servicesOf(process)))
          )
          if (Exit.isSuccess(exit) && process.alive) {
            count("add:ok")
            containers.set(owner.containerId, { _tag: "live", addresses: exit.value.map((a) => a.address) })
            yield* checkInvariants(`after ADD ${owner.containerId}`)
          } else {
            const failure = Exit.isFailure(exit)
              ? exit.cause.reasons.find((r) => r._tag === "Fail")
              : undefined
            const tag = failure?._tag === "Fail" ? (failure.error as { _tag?: string })._tag : "crashed"
            count(`add:${process.alive ? tag : "crashed"}`)
            containers.set(owner.containerId, { _tag: "needsDel", hint: [] })
          }
        })
      )
      .pipe(Effect.andThen(checkInvariants(`after ${step.op} ${owner.containerId}`)))
  }

  const program = Effect.gen(function* () {
    yield* Effect.forEach(
      history.steps,
      (step) => Effect.andThen(Effect.sleep(Duration.millis(step.at)), runStep(step)),
      { concurrency: "unbounded", discard: true }
    )
    // the runtime cleans up every sandbox it knows, then a plain gc runs on every node
    for (const [name, state] of [...containers]) {
      if (state._tag === "absent") continue
      const node = Number(name.slice(1, name.indexOf("c")))
      const process = spawn(node, undefined)
      const hint = state._tag === "live" ? state.addresses : state._tag === "needsDel" ? state.hint : []
      containers.set(name, { _tag: "deleting" })
      const exit = yield* Effect.exit(
        lifecycle
          .detach(network, { containerId: name, ifname: "eth0" }, hint)
          .pipe(Effect.provideContext(servicesOf(process)))
      )
      if (Exit.isFailure(exit)) violations.push(`final DEL of ${name} failed: ${String(exit.cause)}`)
      containers.set(name, { _tag: "absent" })
    }
    yield* Effect.sleep(Duration.millis(history.maxDelay * 4 + 2000))
    for (let node = 0; node < history.nodes; node++) {
      const process = spawn(node, undefined)
      yield* Effect.exit(
        lifecycle.collect(network, { graceMillis: 0 }).pipe(Effect.provideContext(servicesOf(process)))
      )
    }
    const left = fabric.ownRoutes()
    if (left.length > 0) {
      violations.push(
        `leak: after every container was deleted and gc ran, routes of ours remain: ${left.map((r) => `n${r.node} ${formatIp(r.host)}`).join(", ")}`
      )
    }
    for (const [node, memory] of stores.entries()) {
      const records = yield* memory.store.list("pods")
      if (records.length > 0) {
        violations.push(`leak: n${node} keeps records ${records.map((r) => r.containerId).join(", ")}`)
      }
    }
  }).pipe(Random.withSeed(history.seed))

  const exit = time.run(program)
  if (Exit.isFailure(exit)) violations.push(`the history itself failed: ${String(exit.cause)}`)
  return { violations, counts }
}
