import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Logger, LogLevel, Scope } from "effect"
import Iconv from "iconv-lite"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Bench from "../src/bench/Bench.js"
import * as BenchCli from "../src/bench/BenchCli.js"
import * as Histogram from "../src/bench/Histogram.js"
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

  it.scopedLive("warmup: what happens during the warm-up is not counted", () =>
    Effect.gen(function*() {
      let served = 0
      const { port } = yield* plainServer((socket) => {
        socket.on("data", () => {
          served++
          socket.write(expect)
        })
      })
      const result = yield* run(port, { connections: 2, warmup: "300 millis", duration: "200 millis" })
      assert.strictEqual(result.errors, 0)
      assert.isAbove(result.replies, 0)
      assert.isBelow(result.durationSec, 0.29, "the measured phase is --duration, not warm-up plus duration")
      // The replies of the warm-up were served but not counted (the last round trips in flight are not either).
      assert.isAbove(served, result.replies * 1.5)
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

describe("Histogram", () => {
  it("gives quantiles within 1% and the exact maximum", () => {
    const histogram = Histogram.make()
    for (let micros = 1; micros <= 100_000; micros++) histogram.record(micros)
    assert.strictEqual(histogram.count(), 100_000)
    for (const [q, exact] of [[0.5, 50_000], [0.9, 90_000], [0.99, 99_000], [0.999, 99_900]]) {
      assert.approximately(histogram.quantile(q), exact, exact * 0.01, `q${q}`)
    }
    assert.strictEqual(histogram.quantile(1), 100_000)
    assert.strictEqual(histogram.max(), 100_000)
    assert.approximately(histogram.mean(), 50_000.5, 0.001)
    assert.strictEqual(Histogram.make().quantile(0.5), 0)
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

describe("the bench subcommand", () => {
  // A module hook that appends the URL of every module loaded to the file named by BENCH_TEST_MODULE_LOG.
  const hooks = "import * as Fs from \"node:fs\"\n" +
    "export async function load(url, context, next) {\n" +
    "  Fs.appendFileSync(process.env.BENCH_TEST_MODULE_LOG, url + \"\\n\")\n" +
    "  return next(url, context)\n" +
    "}\n"
  const registration = `import { register } from "node:module"\nregister(${
    JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)
  })\n`
  const bin = Path.join(import.meta.dirname, "..", "dist", "bin.js")

  /** The modules the built CLI loads when run with `args`. */
  const modulesLoadedBy = (args: ReadonlyArray<string>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "bench-modules-"))),
      (dir) =>
        Effect.async<ReadonlyArray<string>>((resume) => {
          const log = Path.join(dir, "modules.log")
          const child = ChildProcess.execFile(
            process.execPath,
            ["--import", `data:text/javascript,${encodeURIComponent(registration)}`, bin, ...args],
            { env: { ...process.env, BENCH_TEST_MODULE_LOG: log }, timeout: 20_000 },
            () => resume(Effect.sync(() => Fs.existsSync(log) ? Fs.readFileSync(log, "utf8").split("\n") : []))
          )
          return Effect.sync(() => child.kill("SIGKILL"))
        }),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )

  const generator = /\/bench\/(Bench|BenchMain|Engine|Histogram)\.js$/

  it.live("loads the load generator only when bench runs", () =>
    Effect.gen(function*() {
      const other = yield* modulesLoadedBy(["encodings"])
      assert.isAbove(other.filter((url) => url.endsWith("/dist/Cli.js")).length, 0, "the hook saw the CLI load")
      assert.deepStrictEqual(other.filter((url) => generator.test(url)), [])
      const port = yield* closedPort
      const bench = yield* modulesLoadedBy(["bench", "--port", String(port), "-c", "1", "--duration", "0.1", "--json"])
      assert.strictEqual(bench.filter((url) => generator.test(url)).length, 4)
    }))
})
