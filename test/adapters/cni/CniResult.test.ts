// Tests of the result encoding per spec version.
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { encodeResult } from "../../../src/adapters/cni/CniResult.ts"
import type { Assigned } from "../../../src/domain/Attach.ts"
import { parseIp } from "../../../src/domain/Ip.ts"
import { InvalidPool, makePool } from "../../../src/domain/Pool.ts"

const assigned = (subnet: string, address: string, gateway?: string): Assigned => {
  const pool = makePool("p", [gateway === undefined ? { subnet } : { subnet, gateway }])
  if (pool instanceof InvalidPool) throw new Error(pool.message)
  return { address: Option.getOrThrow(parseIp(address)), pool, range: pool.ranges[0]! }
}

describe("CniResult", () => {
  const v4 = assigned("100.64.0.0/24", "100.64.0.5", "100.64.0.1")
  const v6 = assigned("fd00::/64", "fd00::5")
  const route = { dst: "0.0.0.0/0", gw: "100.64.0.1", mtu: 1400, priority: 5 }

  it("encodeResult - 0.3.x and 0.4.0 carry ips[].version, routes only dst and gw", () => {
    for (const version of ["0.3.0", "0.3.1", "0.4.0"] as const) {
      assert.deepStrictEqual(encodeResult(version, [v4, v6], [route], { nameservers: ["100.64.0.53"] }), {
        cniVersion: version,
        ips: [
          { version: "4", address: "100.64.0.5/24", gateway: "100.64.0.1" },
          { version: "6", address: "fd00::5/64" }
        ],
        routes: [{ dst: "0.0.0.0/0", gw: "100.64.0.1" }],
        dns: { nameservers: ["100.64.0.53"] }
      })
    }
  })

  it("encodeResult - 1.0.0 drops ips[].version; 1.1.0 keeps the new route keys", () => {
    assert.deepStrictEqual(encodeResult("1.0.0", [v4], [route], undefined), {
      cniVersion: "1.0.0",
      ips: [{ address: "100.64.0.5/24", gateway: "100.64.0.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "100.64.0.1" }]
    })
    assert.deepStrictEqual(encodeResult("1.1.0", [v6], [route], {}), {
      cniVersion: "1.1.0",
      ips: [{ address: "fd00::5/64" }],
      routes: [route]
    })
  })
})
