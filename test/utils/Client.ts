import { Effect, Logger } from "effect"
import * as TestClient from "../../src/TestClient.js"

/** The library's own test client (`TestClient`), which `TcpServer.layerTest` provides. */
export type Client = TestClient.Client
export const connect = TestClient.connect

/** Collects log lines; `waitFor` waits, event-driven, until a line matching `predicate` has been logged. */
export const makeLogCapture = Effect.sync(() => {
  const lines: Array<string> = []
  const waiters = new Set<() => void>()
  const logger = Logger.make(({ logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    lines.push(logLevel.label === "INFO" ? text : `${logLevel.label} ${text}`)
    for (const wake of [...waiters]) wake()
  })
  const waitFor = (predicate: (line: string) => boolean): Effect.Effect<string> =>
    Effect.suspend(() => {
      const found = lines.find(predicate)
      if (found !== undefined) return Effect.succeed(found)
      return Effect.async<string>((resume) => {
        const wake = () => {
          waiters.delete(wake)
          resume(waitFor(predicate))
        }
        waiters.add(wake)
        return Effect.sync(() => waiters.delete(wake))
      })
    })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger), waitFor }
})
