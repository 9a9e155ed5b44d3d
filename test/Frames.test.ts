import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, HashMap, Logger, LogLevel, Option, Stream } from "effect"
import Iconv from "iconv-lite"
import { Connection, Framing, Handler, TcpServer } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { gbk, realPause, replyBytes, startServer } from "./utils/Server.js"

const bytes = (...parts: Array<string | Uint8Array>) =>
  Buffer.concat(parts.map((part) => typeof part === "string" ? Buffer.from(part, "latin1") : part))

describe("line framing over sockets", () => {
  it.scoped("gives coalesced lines one reply each, ending as the client's lines end", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({ framing: Framing.line() })
      const client = yield* connect(port)
      yield* client.write(bytes(gbk("第一"), "\n", gbk("第二"), "\r\n", gbk("第三"), "\n"))
      const expected = bytes(replyBytes, "\n", replyBytes, "\r\n", replyBytes, "\n")
      assert.deepStrictEqual(yield* client.read(expected.length), expected)
      const peer = `('127.0.0.1', ${client.localPort})`
      for (const text of ["第一", "第二", "第三"]) assert.include(logs.lines, `${text} ${peer}`)
    }))

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
        yield* client.write(bytes(gbk("甲"), "\n", gbk("乙").subarray(0, 1)))
        yield* realPause(20)
        yield* client.write(bytes(gbk("乙").subarray(1), "\n", gbk("丙"), "\n"))
        yield* client.end
        const expected = bytes(gbk("#1 甲"), "\n", gbk("#2 乙"), "\n", gbk("#3 丙"), "\n", "bye\n")
        assert.deepStrictEqual(yield* client.closed, expected)
      }
    }))

  it.scoped("reports an over-long line with its length and serves the next one (skip)", () =>
    Effect.gen(function*() {
      const { logs, port, server } = yield* startServer({ framing: Framing.line({ maxFrameBytes: 10 }) })
      const client = yield* connect(port)
      yield* client.write(bytes("x".repeat(50), "\n", "ok\n"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length + 1), bytes(replyBytes, "\n"))
      yield* logs.waitFor((line) =>
        line.startsWith("WARN") && line.includes("a frame of 50 bytes is longer than the maximum of 10 bytes")
      )
      assert.strictEqual((yield* server.stats).oversizedFrames, 1)
    }))

  it.scoped("closes the connection on an over-long line (close)", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({ framing: Framing.line({ maxFrameBytes: 10, onOversized: "close" }) })
      const client = yield* connect(port)
      yield* client.write(bytes("ok\n", "y".repeat(50)))
      const rest = yield* client.closed
      assert.deepStrictEqual(rest, bytes(replyBytes, "\n"))
      yield* logs.waitFor((line) => line.startsWith("WARN") && line.includes("is longer than the maximum of 10 bytes"))
    }))

  it.scoped("with fatal decoding, skips and counts a line that is not valid GBK", () =>
    Effect.gen(function*() {
      const { logs, port, server } = yield* startServer({ framing: Framing.line(), decodeErrors: "fatal" })
      const client = yield* connect(port)
      yield* client.write(bytes(new Uint8Array([0xff, 0x41]), "\n", gbk("好"), "\n"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length + 1), bytes(replyBytes, "\n"))
      yield* logs.waitFor((line) => line.includes("is not valid gbk"))
      assert.strictEqual((yield* server.stats).decodeErrors, 1)
    }))

  it.scoped("logs frames in hex and echoes them", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({
        framing: Framing.line(),
        handler: Handler.tutorial({ display: "both", answer: "echo" })
      })
      const client = yield* connect(port)
      yield* client.write(bytes(gbk("你好"), "\r\n"))
      assert.deepStrictEqual(yield* client.read(6), bytes(gbk("你好"), "\r\n"))
      yield* logs.waitFor((line) => line === `你好 [c4 e3 ba c3] ('127.0.0.1', ${client.localPort})`)
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
        seen.push(`${text} ${String(HashMap.get(annotations, "client").pipe(Option.getOrElse(() => "-")))}`)
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
      assert.deepStrictEqual(seen, ["first c1", "got a c1", "got b c1", "last c1"])
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
      // Let the kernel buffers fill: the server must then stop taking lines, not buffer its answers.
      let before = -1
      while (before !== answered) {
        before = answered
        yield* realPause(200)
      }
      assert.isAtMost(answered, 2048, "answers are bounded by the kernel buffers (32 MiB at most)")
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
})

describe("delimiter and length framing over sockets", () => {
  it.effect("refuses a delimiter whose bytes can occur inside a GBK character, and says why", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(TcpServer.make({
        host: "127.0.0.1",
        port: 0,
        framing: Framing.delimiter(bytes("|"))
      })))
      assert.strictEqual(error._tag, "UnsafeDelimiterError")
      assert.include(error.message, "unsafe with gbk")
      assert.include(error.message, "0x7C")
    }))

  it.scoped("splits on a custom delimiter", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({ framing: Framing.delimiter(new Uint8Array([0x03])) })
      const client = yield* connect(port)
      yield* client.write(bytes(gbk("甲"), "\x03", gbk("乙")))
      assert.deepStrictEqual(yield* client.read(replyBytes.length + 1), bytes(replyBytes, "\x03"))
      yield* client.write(bytes("\x03"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length + 1), bytes(replyBytes, "\x03"))
      assert.include(logs.lines, `乙 ('127.0.0.1', ${client.localPort})`)
    }))

  it.scoped("round-trips length-prefixed frames, including a prefix split across reads", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({ framing: Framing.length(2) })
      const client = yield* connect(port)
      const payload = gbk("长度前缀")
      const prefixed = (body: Uint8Array) => bytes(new Uint8Array([body.length >> 8, body.length & 0xff]), body)
      yield* client.write(prefixed(payload).subarray(0, 1))
      yield* realPause(50)
      yield* client.write(prefixed(payload).subarray(1))
      assert.deepStrictEqual(yield* client.read(replyBytes.length + 2), prefixed(replyBytes))
      yield* client.write(bytes(prefixed(gbk("一")), prefixed(gbk("二"))))
      assert.deepStrictEqual(
        yield* client.read(2 * (replyBytes.length + 2)),
        bytes(prefixed(replyBytes), prefixed(replyBytes))
      )
      for (const text of ["长度前缀", "一", "二"]) {
        assert.include(logs.lines, `${text} ('127.0.0.1', ${client.localPort})`)
      }
    }))
})

describe("fuzz", () => {
  const framings: ReadonlyArray<[string, Framing.Framing]> = [
    ["chunk", Framing.chunk],
    ["line/skip", Framing.line({ maxFrameBytes: 256 })],
    ["line/close", Framing.line({ maxFrameBytes: 256, onOversized: "close" })],
    ["delimiter", Framing.delimiter(new Uint8Array([0x03]), { maxFrameBytes: 256 })],
    ["length/1", Framing.length(1)],
    ["length/2", Framing.length(2, { maxFrameBytes: 256 })]
  ]
  for (const encoding of ["gbk", "gb18030", "big5", "shift_jis", "utf8"]) {
    for (const [name, framing] of framings) {
      it.scoped(`${encoding} ${name}: random bytes never crash the server`, () =>
        Effect.gen(function*() {
          let seen = 0
          const handler: Connection.Handler = (connection) =>
            Stream.runForEach(Connection.frames(connection), () => {
              seen++
              return connection.send("k")
            })
          const { port, server } = yield* startServer({ framing, encoding, decodeErrors: "fatal", handler })
          const samples = fc.sample(fc.uint8Array({ minLength: 512, maxLength: 4096 }), { numRuns: 8, seed: 42 })
          yield* Effect.forEach(samples, (sample) =>
            Effect.scoped(Effect.gen(function*() {
              const client = yield* connect(port)
              client.socket.write(sample)
              yield* client.end
              yield* client.closed
            })), { concurrency: "unbounded" })
          const stats = yield* server.stats
          assert.strictEqual(stats.accepted, samples.length)
          // Every sample holds at least one complete frame or one frame error.
          assert.isAtLeast(seen + stats.oversizedFrames + stats.decodeErrors, samples.length)
          // Still serving: a well-formed frame gets its reply.
          const frame = (text: string) => Either.getOrThrow(Framing.encodeFrame(framing, Iconv.encode(text, encoding)))
          const client = yield* connect(port)
          yield* client.write(frame("hello"))
          const reply = frame("k")
          assert.deepStrictEqual(yield* client.read(reply.length), Buffer.from(reply))
        }))
    }
  }
})
