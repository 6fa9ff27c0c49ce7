// Who held which address when: holding intervals [won, released) and the double allocations among them.
import { formatIp, type Ip } from "../../domain/Ip.ts"

/** Node `node` held `address` from `from` until `to` (ms; Infinity while still held). */
export interface Holding {
  readonly node: number
  readonly host: Ip
  readonly address: string
  readonly from: number
  to: number
}

/** Two holdings of the same address that overlap in time: a double allocation. */
export interface DoubleAllocation {
  readonly address: string
  readonly nodes: readonly [number, number]
  /** The instants both held it: [from, to). */
  readonly from: number
  readonly to: number
}

/** Records holdings as a run goes; `doubleAllocations` checks every instant, not only the end. */
export class HoldingLedger {
  private readonly all: Array<Holding> = []
  private readonly open = new Map<string, Holding>()

  private static keyOf(node: number, host: Ip): string {
    return `${node} ${host.family}:${host.value}`
  }

  /** `node` won `host` at `at`. */
  won(node: number, host: Ip, at: number): void {
    const holding: Holding = { node, host, address: formatIp(host), from: at, to: Number.POSITIVE_INFINITY }
    this.all.push(holding)
    this.open.set(HoldingLedger.keyOf(node, host), holding)
  }

  /** `node` released `host` at `at`. */
  released(node: number, host: Ip, at: number): void {
    const key = HoldingLedger.keyOf(node, host)
    const holding = this.open.get(key)
    if (holding === undefined) return
    holding.to = at
    this.open.delete(key)
  }

  /** Addresses each node holds now, as (node, address) pairs. */
  held(): ReadonlyArray<Holding> {
    return [...this.open.values()]
  }

  /** Every holding, in the order won. */
  holdings(): ReadonlyArray<Holding> {
    return this.all
  }

  /** Every pair of holdings of one address whose intervals [from, to) intersect. */
  doubleAllocations(): Array<DoubleAllocation> {
    const byAddress = new Map<string, Array<Holding>>()
    for (const h of this.all) {
      const list = byAddress.get(h.address)
      if (list === undefined) byAddress.set(h.address, [h])
      else list.push(h)
    }
    const found: Array<DoubleAllocation> = []
    for (const [address, list] of byAddress) {
      if (list.length < 2) continue
      list.sort((a, b) => a.from - b.from)
      for (let i = 0; i < list.length; i++) {
        const a = list[i]!
        for (let j = i + 1; j < list.length && list[j]!.from < a.to; j++) {
          const b = list[j]!
          const to = Math.min(a.to, b.to)
          if (b.from < to) found.push({ address, nodes: [a.node, b.node], from: b.from, to })
        }
      }
    }
    return found.sort((x, y) => x.from - y.from || (x.address < y.address ? -1 : 1))
  }
}
