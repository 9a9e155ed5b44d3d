import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Logger, LogLevel, Scope } from "effect"
import Iconv from "iconv-lite"
import * as Net from "node:net"
import * as Bench from "../src/Bench.js"
import * as BenchCli from "../src/BenchCli.js"
import { Handler, TcpServer } from "../src/index.js"

const gbk = (text: string) => Iconv.encode(text, "gbk")
const message = gbk("你好")
const expect = gbk(Handler.defaultReply)

/** This project's server on 127.0.0.1, port 0, with its logs off. */
const startServer = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const server = yield* TcpServer.make({ host: "127.0.0.1", port: 0 }).pipe(
    Logger.withMinimumLogLevel(LogLevel.None),
    Scope.extend(scope)
  )
  yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
  return server
})

/** A plain node:net server on 127.0.0.1, port 0, running `onConnection` for every client. */
const plainServer = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly port: number; readonly sockets: Set<Net.Socket> }, Error>(
      (resume) => {
        const sockets = new Set<Net.Socket>()
        const server = Net.createServer((socket) => {
          sockets.add(socket)
          socket.on("error", () => {})
          socket.on("close", () => sockets.delete(socket))
          onConnection(socket)
        })
        server.once("error", (error) => resume(Effect.fail(error)))
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({ server, port, sockets }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** A port nothing listens on: bound, then released. */
const closedPort = Effect.scoped(Effect.map(plainServer(() => {}), ({ port }) => port))

const run = (port: number, options: Partial<Bench.Options> = {}) =>
  Bench.run({
    host: "127.0.0.1",
    port,
    mode: "pingpong",
    connections: 4,
    duration: "400 millis",
    message,
    expect,
    ...options
  })

/** Waits until `condition` holds, checking every 10 ms, for at most 3 s. */
const eventually = (condition: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      if (yield* condition) return true
      yield* Effect.sleep("10 millis")
    }
    return false
  })

describe("Bench", () => {
  it.scopedLive("pingpong: every connection gets correct replies, no errors", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const result = yield* run(server.address.port)
      assert.strictEqual(result.mode, "pingpong")
      assert.strictEqual(result.errors, 0)
      assert.deepStrictEqual(result.errorKinds, {})
      assert.strictEqual(result.opened, 4)
      assert.isAbove(result.replies, 0)
      assert.strictEqual(result.completed, result.replies)
      assert.isAbove(result.perSec, 0)
      assert.isAbove(result.latencyMs.p50, 0)
      assert.isAtLeast(result.latencyMs.max, result.latencyMs.p99)
      assert.isAtLeast(result.durationSec, 0.4)
      // Every connection was closed at the end.
      assert.isTrue(yield* eventually(Effect.map(server.connections, (n) => n === 0)))
    }))

  it.scopedLive("churn: completes connect, round trip, close cycles", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const result = yield* run(server.address.port, { mode: "churn", connections: 2 })
      assert.strictEqual(result.errors, 0)
      assert.isAbove(result.completed, 1)
      assert.strictEqual(result.replies, result.completed)
      assert.isAtLeast(result.opened, result.completed)
    }))

  it.scopedLive("hold: every connection gets its reply after the idle wait", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const result = yield* run(server.address.port, {
        mode: "hold",
        connections: 100,
        duration: "5 seconds",
        holdWait: "200 millis",
        connectWindow: 20
      })
      assert.strictEqual(result.errors, 0)
      assert.strictEqual(result.opened, 100)
      assert.strictEqual(result.completed, 100)
      assert.strictEqual(result.replies, 100)
      assert.isAtLeast(result.durationSec, 0.2)
    }))

  it.scopedLive("hold: stops waiting once the server has closed every connection", () =>
    Effect.gen(function*() {
      const { port } = yield* plainServer((socket) => {
        setTimeout(() => socket.end(), 50)
      })
      const result = yield* run(port, { mode: "hold", connections: 5, duration: "2 seconds", holdWait: "20 seconds" })
      assert.strictEqual(result.opened, 5)
      assert.strictEqual(result.completed, 0)
      assert.strictEqual(result.errors, 5)
      assert.isBelow(result.durationSec, 5)
    }))

  it.scopedLive("counts a reply that differs from the expected one as an error", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const wrong = Buffer.from(expect)
      wrong[wrong.length - 1] = 0x21
      const result = yield* run(server.address.port, { connections: 2, expect: wrong })
      assert.strictEqual(result.replies, 0)
      assert.isAbove(result.errors, 0)
      assert.strictEqual(result.errorKinds["mismatch"], result.errors)
    }))

  it.scopedLive("reassembles a reply that arrives in several chunks", () =>
    Effect.gen(function*() {
      const { port } = yield* plainServer((socket) => {
        socket.on("data", () => {
          // One byte per write, each in its own event-loop turn.
          let i = 0
          const next = () => {
            if (i < expect.length && !socket.destroyed) {
              socket.write(expect.subarray(i, ++i))
              setTimeout(next, 0)
            }
          }
          next()
        })
      })
      const result = yield* run(port, { connections: 2, duration: "300 millis" })
      assert.strictEqual(result.errors, 0)
      assert.isAbove(result.replies, 0)
    }))

  it.scopedLive("counts refused connections without failing", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const result = yield* run(port, { connections: 2, duration: "300 millis" })
      assert.strictEqual(result.replies, 0)
      assert.isAbove(result.errorKinds["ECONNREFUSED"] ?? 0, 0)
      assert.strictEqual(result.errors, result.errorKinds["ECONNREFUSED"])
    }))

  it.scopedLive("counts a round trip over the timeout as an error and replaces the connection", () =>
    Effect.gen(function*() {
      let connections = 0
      const { port } = yield* plainServer(() => {
        connections++
      })
      const result = yield* run(port, { connections: 1, duration: "700 millis", timeout: "200 millis" })
      assert.strictEqual(result.replies, 0)
      assert.isAtLeast(result.errorKinds["timeout"] ?? 0, 2)
      assert.isAtLeast(connections, 3, "each timed-out connection was replaced")
    }))

  it.scopedLive("closes every socket when interrupted", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const fiber = yield* Effect.fork(run(server.address.port, { connections: 20, duration: "1 minute" }))
      assert.isTrue(yield* eventually(Effect.map(server.connections, (n) => n === 20)))
      yield* Fiber.interrupt(fiber)
      assert.isTrue(yield* eventually(Effect.map(server.connections, (n) => n === 0)))
    }))

  it.effect("rejects options out of range with a readable message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(run(9090, { connections: 0 }))
      assert.strictEqual(error._tag, "BenchOptionError")
      assert.strictEqual(error.message, "invalid --connections 0: expected a whole number from 1 to 1000000")
      const empty = yield* Effect.flip(run(9090, { expect: new Uint8Array(0) }))
      assert.strictEqual(empty.message, "invalid --expect (empty): expected at least one byte")
    }))
})

describe("Bench.makeHistogram", () => {
  it("gives quantiles within 1% and the exact maximum", () => {
    const histogram = Bench.makeHistogram()
    for (let micros = 1; micros <= 100_000; micros++) histogram.record(micros)
    assert.strictEqual(histogram.count(), 100_000)
    for (const [q, exact] of [[0.5, 50_000], [0.9, 90_000], [0.99, 99_000], [0.999, 99_900]]) {
      assert.approximately(histogram.quantile(q), exact, exact * 0.01, `q${q}`)
    }
    assert.strictEqual(histogram.quantile(1), 100_000)
    assert.strictEqual(histogram.max(), 100_000)
    assert.approximately(histogram.mean(), 50_000.5, 0.001)
    assert.strictEqual(Bench.makeHistogram().quantile(0.5), 0)
  })
})

/** The message of the error an exit failed with; "" on success. */
const failureMessage = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Cause.squash(exit.cause)
  return error instanceof Error ? error.message : String(error)
}

describe("BenchCli", () => {
  const runCli = (argv: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const console = yield* Effect.console
      const capture = {
        ...console,
        log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => out.push(args.join(" ")))
      }
      const exit = yield* Command.run(BenchCli.bench, { name: "bench", version: "0.0.0" })(["node", "bench", ...argv])
        .pipe(
          Effect.withConsole(capture),
          Effect.provide(NodeContext.layer),
          Effect.exit
        )
      return { out, exit }
    })

  it.scopedLive("prints the summary, then one JSON line", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const { exit, out } = yield* runCli(["--port", String(server.address.port), "-c", "2", "--duration", "0.3"])
      assert.isTrue(Exit.isSuccess(exit))
      const json = JSON.parse(out[out.length - 1] ?? "")
      assert.strictEqual(json.mode, "pingpong")
      assert.strictEqual(json.connections, 2)
      assert.strictEqual(json.errors, 0)
      assert.isAbove(json.replies, 0)
      assert.includeMembers(Object.keys(json), ["durationSec", "perSec", "latencyMs", "completed"])
      assert.include(out.join("\n"), "latency (ms)   p50 ")
    }))

  it.scopedLive("takes the message and the expected reply in hex; fails when no reply is right", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const port = String(server.address.port)
      const hex = ["--message-hex", message.toString("hex"), "--expect-hex", expect.toString("hex")]
      const ok = yield* runCli(["--port", port, "-c", "1", "--duration", "0.2", "--json", ...hex])
      assert.isTrue(Exit.isSuccess(ok.exit))
      assert.strictEqual(ok.out.length, 1, "--json prints only the JSON line")
      const wrong = yield* runCli(["--port", port, "-c", "1", "--duration", "0.2", "--json", "--expect", "不对"])
      assert.isTrue(Exit.isFailure(wrong.exit))
      assert.match(failureMessage(wrong.exit), /no correct reply from 127\.0\.0\.1:\d+ \(\d+ errors: mismatch \d+\)/)
    }))

  it.effect("rejects bad hex and text given together with hex", () =>
    Effect.gen(function*() {
      const bad = yield* runCli(["--message-hex", "zz"])
      assert.match(failureMessage(bad.exit), /--message-hex: "zz" is not hexadecimal/)
      const both = yield* runCli(["--expect", "a", "--expect-hex", "61"])
      assert.match(failureMessage(both.exit), /give either --expect or --expect-hex/)
    }))
})
