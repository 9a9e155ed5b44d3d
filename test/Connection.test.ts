import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, HashMap, Logger, LogLevel, Metric, Option, TestClock } from "effect"
import { Connection, Framing, Metrics } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { bytes, gbk, settled, startServer, timerArmed, withinTurns } from "./utils/Server.js"

describe("Connection: receive, forEachFrame, respond", () => {
  it.scoped("receive, forEachFrame and respond give the same frames, split or coalesced, and the end of input", () =>
    Effect.gen(function*() {
      // Each handler numbers the lines it gets, then says goodbye once the client has ended its side.
      const viaReceive: Connection.Handler = (connection) => {
        const loop = (n: number): Effect.Effect<void, Connection.ConnectionFailure> =>
          Effect.flatMap(connection.receive, (frame) =>
            frame._tag === "None"
              ? connection.send("bye")
              : Effect.zipRight(connection.send(`#${n} ${frame.value.text}`), loop(n + 1)))
        return loop(1)
      }
      const viaForEach: Connection.Handler = (connection) => {
        let n = 0
        return Effect.zipRight(
          Connection.forEachFrame(connection, (frame) => connection.send(`#${++n} ${frame.text}`)),
          connection.send("bye")
        )
      }
      const viaRespond: Connection.Handler = (connection) => {
        let n = 0
        return Effect.zipRight(connection.respond((frame) => `#${++n} ${frame.text}`), connection.send("bye"))
      }
      for (const handler of [viaReceive, viaForEach, viaRespond]) {
        const { port } = yield* startServer({ framing: Framing.line(), handler })
        const client = yield* connect(port)
        // The reply to the first line proves the server read the first write (and the first byte of 乙 with it)
        // on its own, before the second one is sent.
        yield* client.write(bytes(gbk("甲"), "\n", gbk("乙").subarray(0, 1)))
        const first = bytes(gbk("#1 甲"), "\n")
        assert.deepStrictEqual(yield* client.read(first.length), first)
        yield* client.write(bytes(gbk("乙").subarray(1), "\n", gbk("丙"), "\n"))
        yield* client.end
        assert.deepStrictEqual(yield* client.closed, bytes(gbk("#2 乙"), "\n", gbk("#3 丙"), "\n", "bye\n"))
      }
    }))
})

describe("Connection as a value", () => {
  it.scoped("can be taken apart and spread into a wrapper that overrides a member", () =>
    Effect.gen(function*() {
      const shout: Connection.Handler = (connection) => {
        const { receive } = connection
        const wrapped: Connection.Connection = { ...connection, send: (text) => connection.send(text.toUpperCase()) }
        return Effect.flatMap(receive, () => wrapped.send(`hello ${wrapped.remotePort}`))
      }
      const { port } = yield* startServer({ framing: Framing.line(), handler: shout })
      const client = yield* connect(port)
      yield* client.write("hi\n")
      yield* client.end
      assert.deepStrictEqual(yield* client.closed, bytes(`HELLO ${client.localPort}\n`))
    }))
})

describe("Connection.respond", () => {
  it.scoped("answers in order, framed; undefined answers nothing; bytes and text both work", () =>
    Effect.gen(function*() {
      const handler: Connection.Handler = (connection) =>
        connection.respond((frame) =>
          frame.text === "skip" ? undefined : frame.text === "raw" ? Buffer.from("RAW") : `${frame.text}!`
        )
      const { port } = yield* startServer({ framing: Framing.line(), handler })
      const client = yield* connect(port)
      yield* client.write(bytes(gbk("你好"), "\r\n", "skip\n", "raw\n", gbk("再见"), "\n"))
      yield* client.end
      assert.deepStrictEqual(yield* client.closed, bytes(gbk("你好!"), "\r\n", "RAW\n", gbk("再见!"), "\n"))
    }))

  it.scoped("logs each frame through the fiber's loggers, with its annotations, between the handler's lines", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const recorder = Logger.make(({ annotations, message }) => {
        const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
        const annotation = (key: string) => String(HashMap.get(annotations, key).pipe(Option.getOrElse(() => "-")))
        seen.push(`${text} ${annotation("client")} ${annotation("event")} ${annotation("text")}`)
      })
      let formatted = 0
      const log = (frame: Connection.Frame) => {
        formatted++
        return `got ${frame.text}`
      }
      const handler: Connection.Handler = (connection) =>
        Effect.logInfo("first").pipe(
          Effect.zipRight(connection.respond(() => "ok", { log })),
          Effect.zipRight(Effect.logInfo("last")),
          Effect.annotateLogs("client", "c1"),
          Effect.provide(Logger.add(recorder))
        )
      const quiet: Connection.Handler = (connection) =>
        connection.respond(() => "ok", { log }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
      for (const h of [handler, quiet]) {
        const { port } = yield* startServer({ framing: Framing.line(), handler: h })
        const client = yield* connect(port)
        yield* client.write("a\nb\n")
        yield* client.end
        yield* client.closed
      }
      // The fiber's annotations, and each frame line's own (built only for a logger that reads them).
      assert.deepStrictEqual(seen, ["first c1 - -", "got a c1 message a", "got b c1 message b", "last c1 - -"])
      assert.strictEqual(formatted, 2, "no line is formatted when Info is filtered out")
    }))

  it.scoped("takes no more frames while the client does not read its answers", () =>
    Effect.gen(function*() {
      let answered = 0
      const answer = Buffer.alloc(16 * 1024, 0x61)
      const handler: Connection.Handler = (connection) =>
        connection.respond(() => {
          answered++
          return answer
        })
      const { logs, port } = yield* startServer({ framing: Framing.line(), handler, highWaterMark: 64 * 1024 })
      const client = yield* connect(port)
      client.socket.pause()
      const total = 64 * 1024 * 1024
      client.socket.write(Buffer.alloc(total, 0x0a))
      // Let the kernel buffers fill (no event says when): the server must then stop taking lines, not buffer its
      // answers.
      assert.isAtMost(
        yield* settled(() => answered),
        2048,
        "answers are bounded by the kernel buffers (32 MiB at most)"
      )
      assert.isTrue(
        yield* timerArmed("30 seconds"),
        "the server waits for the socket to drain, under its write timeout"
      )
      assert.isAbove(client.socket.writableLength, total / 2, "most of the input still waits in the client")
      client.socket.destroy()
      yield* logs.waitFor((line) => line.startsWith("WARN") && line.includes(`failed`))
    }))

  it.scoped("an exception in the answer or log function is a defect: logged as an error, the connection closed", () =>
    Effect.gen(function*() {
      const boom = (frame: Connection.Frame) => {
        if (frame.text === "boom") throw new Error("blew up")
        return "fine"
      }
      const handlers: Array<Connection.Handler> = [
        (connection) => connection.respond(boom),
        (connection) => connection.respond(() => "fine", { log: boom })
      ]
      for (const handler of handlers) {
        const { logs, port } = yield* startServer({ framing: Framing.line(), handler })
        const client = yield* connect(port)
        yield* client.write("a\nboom\nb\n")
        assert.deepStrictEqual(yield* client.closed, bytes("fine\n"))
        // Defects are logged at Error level with their cause; a client's failures only at Warning level.
        const line = yield* logs.waitFor((line) => line.startsWith("ERROR"))
        assert.include(line, `connection 1 from 127.0.0.1:${client.localPort} failed`)
      }
    }))

  it.scoped("stops answering once its fiber is interrupted, also while the handler's own finalizer still runs", () =>
    Effect.gen(function*() {
      const answered: Array<string> = []
      const finalizing = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      // However the test ends, the handler's finalizer may end (the server's shutdown waits for it).
      yield* Effect.addFinalizer(() => Deferred.succeed(gate, undefined))
      // The maximum connection age interrupts the handler; its finalizer then waits for the gate.
      const handler: Connection.Handler = (connection) =>
        connection.respond((frame) => {
          answered.push(frame.text)
          return "ok"
        }).pipe(Effect.ensuring(Effect.zipRight(Deferred.succeed(finalizing, undefined), Deferred.await(gate))))
      const { port } = yield* startServer({ framing: Framing.line(), handler, maxConnectionAge: "1 minute" })
      const client = yield* connect(port)
      yield* client.write("one\n")
      assert.deepStrictEqual(yield* client.read(3), bytes("ok\n"))
      yield* TestClock.adjust("1 minute")
      yield* Deferred.await(finalizing)
      // A frame that arrives now (the server has read it when its byte count says so) is not answered.
      const received = Metric.value(Metrics.receivedBytes)
      const before = (yield* received).count
      yield* client.write("two\n")
      yield* withinTurns(Effect.map(received, (state) => state.count >= before + 4))
      const answeredThen = [...answered]
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(answeredThen, ["one"])
      assert.strictEqual((yield* client.closed).length, 0)
    }))

  it.scoped("an uninterruptible respond goes on answering through an interruption, until its client ends", () =>
    Effect.gen(function*() {
      const handler: Connection.Handler = (connection) => Effect.uninterruptible(connection.respond(() => "ok"))
      const { port } = yield* startServer({ framing: Framing.line(), handler, maxConnectionAge: "1 minute" })
      const client = yield* connect(port)
      yield* client.write("one\n")
      assert.deepStrictEqual(yield* client.read(3), bytes("ok\n"))
      // The age limit interrupts the handler, which cannot be interrupted: it goes on until it ends by itself.
      yield* TestClock.adjust("1 minute")
      yield* client.write("two\n")
      // Real time bounds the wait only to turn a hang into a failure.
      const bound = Effect.promise(() =>
        new Promise<"no answer">((resolve) => setTimeout(() => resolve("no answer"), 5000))
      )
      assert.deepStrictEqual(yield* Effect.raceFirst(Effect.orDie(client.read(3)), bound), bytes("ok\n"))
      yield* client.end
      assert.strictEqual((yield* client.closed).length, 0)
    }))
})
