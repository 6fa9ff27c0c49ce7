// Watches one namespace's route changes (`ip -ts monitor route`), with the kernel event's time of arrival.
import { spawn } from "node:child_process"
import { setTimeout as sleep } from "node:timers/promises"

/** One route event: when `ip monitor` received it (µs since the epoch), added or deleted, and the text. */
export interface RouteEvent {
  readonly atMicros: number
  readonly deleted: boolean
  /** The route as iproute2 prints it, e.g. "100.64.1.7 via 198.18.0.1 dev eth0 proto bird metric 32". */
  readonly route: string
}

/** A running monitor: events seen so far; `stop` ends it and returns every event. */
export interface RouteMonitor {
  readonly events: () => ReadonlyArray<RouteEvent>
  readonly stop: () => Promise<ReadonlyArray<RouteEvent>>
}

const linePattern = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\] (Deleted )?(.*)$/

/** Parse one line of `ip -ts monitor route` (local time stamps, microseconds). */
export const parseEvent = (line: string): RouteEvent | undefined => {
  const match = line.match(linePattern)
  if (match === null) return undefined
  const [, seconds = "", micros = "", deleted, route = ""] = match
  return {
    atMicros: new Date(seconds).getTime() * 1000 + Number(micros),
    deleted: deleted !== undefined,
    route
  }
}

/** Start `ip -n NETNS -ts monitor route`; resolves once it is listening (a short settle delay). */
export const monitorRoutes = async (netns: string): Promise<RouteMonitor> => {
  const child = spawn("ip", ["-n", netns, "-ts", "monitor", "route"], { stdio: ["ignore", "pipe", "ignore"] })
  const events: Array<RouteEvent> = []
  let partial = ""
  child.stdout.setEncoding("utf8")
  child.stdout.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n")
    partial = lines.pop() ?? ""
    for (const line of lines) {
      const event = parseEvent(line.trim())
      if (event !== undefined) events.push(event)
    }
  })
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()))
  await sleep(150)
  return {
    events: () => [...events],
    stop: async () => {
      child.kill("SIGTERM")
      await closed
      return [...events]
    }
  }
}
