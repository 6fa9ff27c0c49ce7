// `node bench/rangeCheck.ts`: how long decoding a network config takes as the number of range sets grows (issue 12 item 3).
import { decodeRequest, readStdinConf } from "../src/adapters/cni/CniRequest.ts"
import type { CniEnv } from "../src/adapters/cni/CniEnv.ts"

const env: CniEnv = {
  command: "DEL",
  containerId: "c1",
  ifname: "eth0",
  netns: undefined,
  args: "",
  path: undefined
}

/** `count` disjoint /28 range sets inside 100.64.0.0/10, plus one exclusion list shared by all. */
const config = (count: number): string =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "bench",
    ipam: {
      ranges: Array.from({ length: count }, (_, i) => [
        { subnet: `100.${64 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16}/28` }
      ]),
      exclude: Array.from(
        { length: count },
        (_, i) => `100.${64 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16 + 1}`
      )
    }
  })

console.log("| range sets | config KiB | decode ms (median of 5) |")
console.log("| ---: | ---: | ---: |")
for (const count of [1_000, 5_000, 20_000]) {
  const text = config(count)
  const samples: Array<number> = []
  for (let run = 0; run < 5; run++) {
    const started = performance.now()
    const stdin = readStdinConf(text)
    if (stdin instanceof Error) throw stdin
    const request = decodeRequest(env, stdin)
    if (request instanceof Error) throw request
    samples.push(performance.now() - started)
  }
  samples.sort((a, b) => a - b)
  console.log(`| ${count} | ${(text.length / 1024).toFixed(0)} | ${samples[2]!.toFixed(0)} |`)
}
