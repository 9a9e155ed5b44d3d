import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import { bin, spawnShell } from "./utils/Bin.js"

describe("out of file descriptors", () => {
  it.scopedLive("every connection refused for lack of descriptors is counted in the log", () =>
    Effect.gen(function*() {
      const child = yield* spawnShell(
        `ulimit -n 400; exec "${process.execPath}" "${bin}" serve --host 127.0.0.1 --port 0 --quiet`
      )
      const { until, wake } = child
      const out = child.stdout
      const err = child.stderr
      yield* until(() => /listening on \S*:(\d+)/.test(out()))
      const port = Number(/listening on \S*:(\d+)/.exec(out())?.[1])
      // Connections the server drops are closed at once; the others stay open (idle) until the test ends.
      let closedByServer = 0
      const sockets: Array<Net.Socket> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => sockets.forEach((socket) => socket.destroy())))
      yield* Effect.forEach(Array.from({ length: 500 }), () =>
        Effect.async<void>((resume) => {
          const socket = Net.connect({ port, host: "127.0.0.1" })
          sockets.push(socket)
          socket.on("error", () => {})
          socket.once("close", () => {
            closedByServer++
            wake()
          })
          socket.once("connect", () => resume(Effect.void))
        }), { concurrency: 25 })
      const counted = () =>
        [...err().matchAll(/out of file descriptors .*\((\d+) in the last second\)/g)]
          .reduce((sum, match) => sum + Number(match[1]), 0)
      // The server holds as many connections as its log line says; it drops the others at once.
      yield* until(() => /allows (\d+) connections/.test(err()))
      const budget = Number(/allows (\d+) connections/.exec(err())?.[1])
      assert.isAbove(500 - budget, 50)
      yield* until(() => closedByServer === 500 - budget)
      // Without the trailing count, the refusals after the first line of a flood were never reported.
      yield* until(() => counted() === closedByServer)
    }))
})
