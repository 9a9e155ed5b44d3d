import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream, TestClock } from "effect"
import * as Fs from "node:fs"
import { Connection, Handler, TcpServer } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { gbk, replyBytes, settled, startServer, timerArmed, waitForLines, withinTurns } from "./utils/Server.js"

const roundTrip = (client: Effect.Effect.Success<ReturnType<typeof connect>>, text = "在吗") =>
  Effect.zipRight(client.write(gbk(text)), client.read(replyBytes.length))

describe("limits and access", () => {
  it.scoped("refuses connections beyond max connections, after the busy text, and keeps serving", () =>
    Effect.gen(function*() {
      const { logs, port, server } = yield* startServer({ maxConnections: 2, busyText: "忙" })
      const a = yield* connect(port)
      const b = yield* connect(port)
      yield* roundTrip(a)
      yield* roundTrip(b)
      const c = yield* connect(port)
      assert.deepStrictEqual(yield* c.closed, gbk("忙"))
      yield* logs.waitFor((line) => line.startsWith("WARN refused") && line.includes("limit of 2 connections"))
      assert.deepStrictEqual(yield* roundTrip(a), replyBytes)
      assert.deepStrictEqual(yield* server.stats, {
        active: 2,
        accepted: 2,
        refused: 1,
        oversizedFrames: 0,
        decodeErrors: 0
      })
      // A slot that frees up can be taken again.
      yield* a.end
      yield* a.closed
      yield* logs.waitFor((line) => line === `客户端下线了: ('127.0.0.1', ${a.localPort})`)
      // The slot is free once the server's socket has closed, a turn or two after the handler's last line.
      yield* withinTurns(Effect.map(server.connections, (open) => open === 1))
      const d = yield* connect(port)
      assert.deepStrictEqual(yield* roundTrip(d), replyBytes)
    }))

  it.scoped("limits connections per address", () =>
    Effect.gen(function*() {
      const { logs, port, server } = yield* startServer({ maxConnectionsPerIp: 1 })
      const a = yield* connect(port)
      yield* roundTrip(a)
      const b = yield* connect(port)
      assert.strictEqual((yield* b.closed).length, 0)
      const refusals = yield* waitForLines(logs, (line) => line.startsWith("WARN refused"), 1)
      assert.deepStrictEqual(refusals, [
        `WARN refused 127.0.0.1:${b.localPort}: 127.0.0.1 is at its limit of 1 connections`
      ])
      assert.strictEqual((yield* server.stats).refused, 1)
      // The refusal is logged after the socket is closed: a round trip after it proves no other line follows.
      assert.deepStrictEqual(yield* roundTrip(a), replyBytes)
      assert.strictEqual(logs.lines.filter((line) => line.startsWith("WARN refused")).length, 1)
    }))

  it.scoped("applies deny and allow lists, IPv4 and IPv6", () =>
    Effect.gen(function*() {
      const denied = yield* startServer({ deny: ["127.0.0.0/8"] })
      const d = yield* connect(denied.port)
      assert.strictEqual((yield* d.closed).length, 0)
      yield* denied.logs.waitFor((line) =>
        line === `WARN refused 127.0.0.1:${d.localPort}: 127.0.0.1 is in the deny list`
      )
      assert.include(yield* denied.server.stats, { accepted: 0, refused: 1 })
      const notAllowed = yield* startServer({ allow: ["10.0.0.0/8", "fd00::/8"] })
      const n = yield* connect(notAllowed.port)
      assert.strictEqual((yield* n.closed).length, 0)
      yield* notAllowed.logs.waitFor((line) =>
        line === `WARN refused 127.0.0.1:${n.localPort}: 127.0.0.1 is not in the allow list`
      )
      assert.include(yield* notAllowed.server.stats, { accepted: 0, refused: 1 })
      const allowed = yield* startServer({ allow: ["::1/128", "127.0.0.1"], deny: ["192.168.0.0/16"] })
      const a = yield* connect(allowed.port)
      assert.deepStrictEqual(yield* roundTrip(a), replyBytes)
      assert.include(yield* allowed.server.stats, { accepted: 1, refused: 0 })
      assert.isFalse(allowed.logs.lines.some((line) => line.startsWith("WARN refused")))
      const error = yield* Effect.flip(
        Effect.scoped(TcpServer.make({ host: "127.0.0.1", port: 0, allow: ["10.0.0.0/33"] }))
      )
      assert.strictEqual(error._tag, "TcpServerOptionError")
      assert.include(error.message, "10.0.0.0/33")
    }))
})

describe("timeouts", () => {
  it.scoped("closes a connection idle for the idle timeout (TestClock)", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({ idleTimeout: "10 seconds" })
      const client = yield* connect(port)
      yield* roundTrip(client)
      yield* TestClock.adjust("9 seconds")
      assert.deepStrictEqual(yield* roundTrip(client), replyBytes, "input resets the idle timer")
      yield* TestClock.adjust("9 seconds")
      assert.deepStrictEqual(yield* roundTrip(client), replyBytes)
      yield* TestClock.adjust("10 seconds")
      yield* client.closed
      yield* logs.waitFor((line) => line.startsWith("WARN") && line.includes("idle timeout"))
    }))

  it.scoped("closes a slowloris client at the maximum connection age (TestClock)", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({ idleTimeout: "10 seconds", maxConnectionAge: "58 seconds" })
      const client = yield* connect(port)
      // One byte every 5 seconds of virtual time keeps the idle timer from firing.
      for (let second = 0; second <= 50; second += 5) {
        yield* roundTrip(client, "a")
        yield* TestClock.adjust("5 seconds")
      }
      // Now 55 s: the age limit (58 s) comes before the idle timer (60 s).
      yield* TestClock.adjust("4 seconds")
      yield* client.closed
      yield* logs.waitFor((line) => line.includes("maximum connection age"))
    }))

  it.scoped("a client that never reads is closed after the write timeout; memory stays bounded; others unaffected", () =>
    Effect.gen(function*() {
      let sent = 0
      const blob = Buffer.alloc(16 * 1024, 0x61)
      const flood: Connection.Handler = (connection) =>
        Connection.input(connection).pipe(
          Stream.take(1),
          Stream.runDrain,
          Effect.zipRight(Effect.forever(Effect.tap(connection.sendBytes(blob), () => sent += blob.length)))
        )
      const { logs, port } = yield* startServer({
        handler: flood,
        writeTimeout: "30 seconds",
        highWaterMark: 64 * 1024
      })
      const client = yield* connect(port)
      client.socket.pause()
      yield* client.write("go")
      // Let the kernel buffers fill (no event says when): then the handler must be waiting, not buffering.
      const stalledAt = yield* settled(() => sent)
      assert.isAtMost(stalledAt, 32 * 1024 * 1024, "what the handler sent is bounded by the kernel buffers")
      assert.isTrue(
        yield* timerArmed("30 seconds"),
        "the handler waits for the socket to drain, under its write timeout"
      )

      const other = yield* startServer()
      const bystander = yield* connect(other.port)
      assert.deepStrictEqual(yield* roundTrip(bystander), replyBytes)

      yield* TestClock.adjust("31 seconds")
      client.socket.resume()
      yield* client.closed
      yield* logs.waitFor((line) => line.startsWith("WARN") && line.includes("write timeout"))
      assert.strictEqual(sent, stalledAt)
    }))
})

describe("shutdown", () => {
  it.scoped("a half-closed client still gets the replies to what it sent", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({ handler: Handler.echo })
      const client = yield* connect(port)
      const payload = Buffer.alloc(300 * 1024, 0x62)
      yield* client.write(payload)
      yield* client.end
      const rest = yield* client.closed
      assert.strictEqual(rest.length, payload.length)
      assert.isTrue(rest.equals(payload))
    }))

  it.scoped("flushes replies in flight, sends the goodbye text and closes 100 clients", () =>
    Effect.gen(function*() {
      const big = Buffer.alloc(200 * 1024, 0x63)
      let received = 0
      const allReceived = yield* Deferred.make<void>()
      const handler: Connection.Handler = (connection) =>
        Connection.forEachFrame(connection, () =>
          Effect.gen(function*() {
            if (++received === 100) yield* Deferred.succeed(allReceived, undefined)
            yield* connection.sendBytes(big)
          }))
      const { close, logs, port, server } = yield* startServer({ handler, goodbye: "再见" })
      const clients = yield* Effect.forEach(Array.from({ length: 100 }), () => connect(port), {
        concurrency: 20
      })
      yield* Effect.forEach(clients, (client) => client.write("x"), { concurrency: "unbounded" })
      yield* Deferred.await(allReceived)
      yield* close
      const expected = Buffer.concat([big, gbk("再见")])
      yield* Effect.forEach(clients, (client) =>
        Effect.map(client.closed, (rest) => {
          assert.strictEqual(rest.length, expected.length)
          assert.isTrue(rest.equals(expected))
        }), { concurrency: "unbounded" })
      assert.strictEqual(yield* server.connections, 0)
      assert.include(logs.lines, "shutting down: closing 100 connections")
      assert.include(logs.lines, "shutdown: 100 connections closed")
    }))

  it.scoped("interrupts handlers still busy after the grace period (TestClock)", () =>
    Effect.gen(function*() {
      let started = 0
      const allStarted = yield* Deferred.make<void>()
      const stuck: Connection.Handler = () =>
        Effect.zipRight(
          Effect.suspend(() => ++started === 3 ? Deferred.succeed(allStarted, undefined) : Effect.void),
          Effect.never
        )
      const { close, logs, port } = yield* startServer({ handler: stuck, shutdownGrace: "3 seconds" })
      const clients = yield* Effect.forEach(Array.from({ length: 3 }), () => connect(port))
      yield* Deferred.await(allStarted)
      const closing = yield* Effect.fork(close)
      yield* logs.waitFor((line) => line === "shutting down: closing 3 connections")
      // The stuck handlers read nothing, so the only timer is the grace period's: armed by a fiber the shutdown
      // forks after that line, within a few turns.
      yield* withinTurns(timerArmed("3 seconds"))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(closing)
      yield* Effect.forEach(clients, (client) => client.closed)
      yield* logs.waitFor((line) => line.includes("3 of them interrupted after the 3s grace period"))
    }))
})

describe("descriptors", () => {
  const openDescriptors = () => Fs.readdirSync("/proc/self/fd").length

  it.scoped("2,000 connections opened and closed in waves leave no descriptor behind", () =>
    Effect.gen(function*() {
      const { logs, port, server } = yield* startServer({ maxConnections: 10_000 })
      const baseline = openDescriptors()
      for (let wave = 0; wave < 10; wave++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const clients = yield* Effect.forEach(Array.from({ length: 200 }), () => connect(port), { concurrency: 50 })
          yield* Effect.forEach(clients, (client) => roundTrip(client), { concurrency: "unbounded" })
          // Half leave politely, half reset.
          yield* Effect.forEach(clients, (client, i) =>
            i % 2 === 0 ? Effect.zipRight(client.end, client.closed) : client.reset, { concurrency: "unbounded" })
        }))
      }
      // Every handler has ended (its last line logged); a socket it destroyed reports its close in a later turn.
      const gone = yield* waitForLines(logs, (line) =>
        line.startsWith("客户端下线了"), 2000)
      assert.lengthOf(gone, 2000)
      yield* withinTurns(Effect.map(server.connections, (open) =>
        open === 0))
      assert.strictEqual(yield* server.connections, 0)
      assert.strictEqual(openDescriptors(), baseline)
      assert.strictEqual((yield* server.stats).accepted, 2000)
    }))
})
