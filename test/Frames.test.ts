import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Stream } from "effect"
import Iconv from "iconv-lite"
import { Connection, Framing, TcpServer } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { bytes, gbk, replyBytes, startServer } from "./utils/Server.js"

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
      // The reply to 一 proves the server read the first write, with the first byte of the next prefix, on its
      // own: the prefix is split across reads.
      yield* client.write(bytes(prefixed(gbk("一")), prefixed(payload).subarray(0, 1)))
      assert.deepStrictEqual(yield* client.read(replyBytes.length + 2), prefixed(replyBytes))
      yield* client.write(prefixed(payload).subarray(1))
      assert.deepStrictEqual(yield* client.read(replyBytes.length + 2), prefixed(replyBytes))
      yield* client.write(bytes(prefixed(gbk("二")), prefixed(gbk("三"))))
      assert.deepStrictEqual(
        yield* client.read(2 * (replyBytes.length + 2)),
        bytes(prefixed(replyBytes), prefixed(replyBytes))
      )
      for (const text of ["一", "长度前缀", "二", "三"]) {
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
