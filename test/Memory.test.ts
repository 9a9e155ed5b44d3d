import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"

const bin = Path.join(import.meta.dirname, "..", "dist", "bin.js")

const rssMiB = (pid: number): number => {
  const match = /VmRSS:\s+(\d+)/.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return Number(match?.[1] ?? Number.NaN) / 1024
}

/** Starts the built CLI on a free loopback port; resolves with the process and its port. */
const serve = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly child: ChildProcess.ChildProcess; readonly port: number }, Error>((resume) => {
      const child = ChildProcess.spawn(
        process.execPath,
        [bin, "serve", "--host", "127.0.0.1", "--port", "0", ...args],
        {
          stdio: ["ignore", "pipe", "ignore"]
        }
      )
      let out = ""
      child.stdout.setEncoding("utf8").on("data", (text: string) => {
        out += text
        const match = /listening on \S*:(\d+)/.exec(out)
        if (match !== null) resume(Effect.succeed({ child, port: Number(match[1]) }))
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`the server exited with ${code}: ${out}`))))
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  )

describe("memory per connection", () => {
  // Issue 10: 40 clients sending 256 KiB of 1-2 byte frames and never reading drove the server from 100 to 690 MiB
  // (every frame of a read was decoded at once and kept while the connection waited for the client).
  for (
    const [framing, payload] of [
      ["line", Buffer.alloc(256 * 1024, 0x0a)],
      ["length", Buffer.alloc(255 * 1024).fill(Buffer.from([0, 1, 0x41]))]
    ] as const
  ) {
    it.scopedLive(`${framing} framing: 40 flooding clients that never read cost well under 1.5 MiB each`, () =>
      Effect.gen(function*() {
        const { child, port } = yield* serve(["--framing", framing, "--quiet"])
        const pid = child.pid ?? 0
        const base = rssMiB(pid)
        const sockets = yield* Effect.acquireRelease(
          Effect.sync(() =>
            Array.from({ length: 40 }, () => {
              const socket = Net.connect({ port, host: "127.0.0.1" })
              socket.on("error", () => {})
              socket.pause()
              socket.write(payload)
              return socket
            })
          ),
          (sockets) => Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
        )
        // Sampled for 3 s (60 samples): the server reads what it can and stops when the clients' windows fill.
        let peak = base
        for (let i = 0; i < 60; i++) {
          yield* Effect.sleep("50 millis")
          peak = Math.max(peak, rssMiB(pid))
        }
        const perConnection = (peak - base) / sockets.length
        assert.isBelow(perConnection, 1.5, `RSS ${base.toFixed(0)} -> ${peak.toFixed(0)} MiB`)
      }))
  }
})
