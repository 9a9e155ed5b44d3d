import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Layer, Scope, Stream, Tracer } from "effect"
import { Connection, Handler, TcpServer, TestClient } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { gbk, replyBytes, settled, startServer } from "./utils/Server.js"

describe("TcpServer", () => {
  it.scoped("binds an ephemeral port and reports its address", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer()
      assert.strictEqual(server.address.host, "127.0.0.1")
      assert.strictEqual(server.address.family, "IPv4")
      assert.isAbove(server.address.port, 0)
      assert.strictEqual(yield* server.connections, 0)
    }))

  it.scoped("serves 50 clients at once, each getting exactly its own replies", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer()
      const messages = 5
      yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) =>
          Effect.scoped(Effect.gen(function*() {
            const client = yield* connect(port)
            for (let m = 0; m < messages; m++) {
              yield* client.write(gbk(`客户${i}消息${m}`))
              const reply = yield* client.read(replyBytes.length)
              assert.deepStrictEqual(reply, replyBytes)
            }
            yield* client.end
            const rest = yield* client.closed
            assert.strictEqual(rest.length, 0, "no reply beyond one per message")
            yield* logs.waitFor((line) => line === `客户端下线了: ('127.0.0.1', ${client.localPort})`)
            for (let m = 0; m < messages; m++) {
              assert.include(logs.lines, `客户${i}消息${m} ('127.0.0.1', ${client.localPort})`)
            }
            assert.include(logs.lines, `客户端连接成功: ('127.0.0.1', ${client.localPort})`)
          })),
        { concurrency: "unbounded" }
      )
    }))

  it.scoped("keeps every client's bytes apart and in order (echo handler)", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({ handler: Handler.echo })
      yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) =>
          Effect.scoped(Effect.gen(function*() {
            const client = yield* connect(port)
            const payload = Buffer.alloc(256 * 1024, i)
            for (let offset = 0; offset < payload.length; offset += 1000) {
              payload.writeUInt32BE(offset, offset)
            }
            yield* client.write(payload)
            const echoed = yield* client.read(payload.length)
            assert.isTrue(echoed.equals(payload), `client ${i} got back exactly what it sent`)
          })),
        { concurrency: "unbounded" }
      )
    }))

  it.scoped("decodes a GBK character split across two writes", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer()
      const client = yield* connect(port)
      const zhong = gbk("中")
      assert.strictEqual(zhong.length, 2)
      // The reply to the first write proves the server read it on its own, before the second write.
      yield* client.write(Buffer.concat([gbk("a"), zhong.subarray(0, 1)]))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
      yield* client.write(Buffer.concat([zhong.subarray(1), gbk("b")]))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
      const peer = `('127.0.0.1', ${client.localPort})`
      assert.include(logs.lines, `a ${peer}`)
      assert.include(logs.lines, `中b ${peer}`)
    }))

  it.scoped("turns invalid bytes into U+FFFD and keeps the connection usable", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer()
      const client = yield* connect(port)
      const peer = `('127.0.0.1', ${client.localPort})`
      yield* client.write(Buffer.from([0xff, 0x41]))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
      yield* client.write(gbk("你好"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
      assert.include(logs.lines, `\uFFFDA ${peer}`)
      assert.include(logs.lines, `你好 ${peer}`)
    }))

  it.scoped("logs a disconnect once, and a reset disturbs no other client", () =>
    Effect.gen(function*() {
      const { close, logs, port, server } = yield* startServer()
      const steady = yield* connect(port)
      const resetting = yield* connect(port)
      const leaving = yield* connect(port)
      yield* steady.write(gbk("一"))
      yield* steady.read(replyBytes.length)

      yield* resetting.write(gbk("半条消"))
      yield* resetting.read(replyBytes.length)
      yield* resetting.write(gbk("息").subarray(0, 1))
      yield* resetting.reset
      yield* leaving.end
      yield* leaving.closed

      const gone = (port: number) => `客户端下线了: ('127.0.0.1', ${port})`
      yield* logs.waitFor((line) => line === gone(resetting.localPort))
      yield* logs.waitFor((line) => line === gone(leaving.localPort))
      yield* logs.waitFor((line) => line.startsWith("WARN") && line.includes(`${resetting.localPort} failed`))

      yield* steady.write(gbk("二"))
      assert.deepStrictEqual(yield* steady.read(replyBytes.length), replyBytes)
      assert.strictEqual(yield* server.connections, 1)

      yield* close
      for (const p of [resetting.localPort, leaving.localPort, steady.localPort]) {
        assert.strictEqual(logs.lines.filter((line) => line === gone(p)).length, 1, `one disconnect line for ${p}`)
      }
    }))

  it.scoped("a handler's Scope is its connection's: its finalizers run when that client leaves", () =>
    Effect.gen(function*() {
      const released = yield* Deferred.make<number>()
      const handler: Connection.Handler<Connection.ConnectionFailure, Scope.Scope> = (connection) =>
        Effect.addFinalizer(() => Deferred.succeed(released, connection.remotePort)).pipe(
          Effect.zipRight(Connection.forEachFrame(connection, (frame) => connection.sendBytes(frame.bytes)))
        )
      const { port } = yield* startServer({ handler })
      const staying = yield* connect(port)
      const leaving = yield* connect(port)
      yield* leaving.write(gbk("再见"))
      yield* leaving.read(gbk("再见").length)
      yield* leaving.end
      yield* leaving.closed
      // The server is still running and the other client still connected: only the leaving one's scope closed.
      assert.strictEqual(yield* Deferred.await(released), leaving.localPort)
      yield* staying.write(gbk("在"))
      assert.deepStrictEqual(yield* staying.read(gbk("在").length), gbk("在"))
    }))

  it.scoped("keeps connection log lines out of the span the server was started in", () =>
    Effect.gen(function*() {
      // A tracer that records the events of every span: Effect's tracer logger adds each log line as an
      // event of the current span, and a span that lives as long as the server would keep them all.
      const events: Array<string> = []
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          const event = span.event.bind(span)
          span.event = (name, startTime, attributes) => {
            // Connection spans (one per connection, ended with it) may hold their own connection's lines.
            if (span.name !== "tcp_server.connection") events.push(name)
            event(name, startTime, attributes)
          }
          return span
        },
        context: base.context
      })
      const { logs, port } = yield* startServer().pipe(Effect.withSpan("app"), Effect.withTracer(tracer))
      const client = yield* connect(port)
      yield* client.write(gbk("问题"))
      yield* client.read(replyBytes.length)
      yield* logs.waitFor((line) => line.startsWith("问题 "))
      assert.deepStrictEqual(events.filter((event) => event.includes("127.0.0.1")), [])
    }))

  it.scoped("a burst of 400 connections at once: each is served once, under its own id", () =>
    Effect.gen(function*() {
      // Sockets accepted in a burst are handed to the accept loop in chunks; none may be lost or
      // handed on twice. Each client gets back the id of the connection that served it.
      const handler: Connection.Handler = (connection) => connection.respond(() => `${connection.id}`)
      const { port, server } = yield* startServer({ handler, backlog: 511 })
      const clients = yield* Effect.forEach(Array.from({ length: 400 }), () => connect(port), {
        concurrency: "unbounded"
      })
      const ids = yield* Effect.forEach(clients, (client) =>
        Effect.gen(function*() {
          yield* client.write("hi")
          yield* client.end
          return Number((yield* client.closed).toString("latin1"))
        }), { concurrency: "unbounded" })
      assert.deepStrictEqual([...ids].sort((a, b) => a - b), Array.from({ length: 400 }, (_, i) => i + 1))
      assert.strictEqual((yield* server.stats).accepted, 400)
    }))

  it.scoped("closing the server in the middle of a burst closes every client socket", () =>
    Effect.gen(function*() {
      const { close, port, server } = yield* startServer({ backlog: 511 })
      const clients = yield* Effect.forEach(Array.from({ length: 300 }), () => connect(port), {
        concurrency: "unbounded"
      })
      yield* close
      yield* Effect.forEach(clients, (client) => client.closed, { concurrency: "unbounded" })
      assert.strictEqual(yield* server.connections, 0)
    }))

  it.scoped("closing the server closes every client socket", () =>
    Effect.gen(function*() {
      const { close, port, server } = yield* startServer()
      const clients = yield* Effect.forEach(Array.from({ length: 10 }), () => connect(port))
      // A round trip on each proves the server is serving all ten.
      yield* Effect.forEach(clients, (client) =>
        Effect.zipRight(client.write(gbk("在吗")), client.read(replyBytes.length)), { concurrency: "unbounded" })
      assert.strictEqual(yield* server.connections, 10)
      yield* close
      yield* Effect.forEach(clients, (client) =>
        client.closed, { concurrency: "unbounded" })
      assert.strictEqual(yield* server.connections, 0)
    }))

  it.scoped("a slow handler makes a fast client wait instead of buffering without bound", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      let consumed = 0
      const { port } = yield* startServer({
        handler: (connection) =>
          Connection.forEachFrame(connection, (frame) =>
            Effect.gen(function*() {
              consumed += frame.bytes.length
              yield* Deferred.succeed(started, undefined)
              yield* Deferred.await(release)
            }))
      })
      const client = yield* connect(port)
      const total = 64 * 1024 * 1024
      client.socket.write(Buffer.alloc(total))
      yield* Deferred.await(started)
      // Let the kernel fill its buffers (no event says when); with no backpressure the server would take everything.
      const waiting = yield* settled(() => client.socket.writableLength)
      assert.isAbove(waiting, total / 2, "most of the data still waits in the client")
      assert.isAtMost(consumed, 128 * 1024, "the handler was given at most one chunk")
      yield* Deferred.succeed(release, undefined)
    }))

  it.effect("reports a port in use with the host and port", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const error = yield* Effect.flip(Effect.scoped(TcpServer.make({ host: "127.0.0.1", port })))
      assert.strictEqual(error._tag, "TcpServerError")
      if (error._tag === "TcpServerError") assert.strictEqual(error.reason, "AddressInUse")
      assert.strictEqual(
        error.message,
        `port ${port} on 127.0.0.1 is already in use: stop the program using it or choose another port`
      )
    }).pipe(Effect.scoped))

  it.effect("reports an unknown encoding and how to list the known ones", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.scoped(TcpServer.make({ host: "127.0.0.1", port: 0, encoding: "klingon" }))
      )
      assert.strictEqual(error._tag, "UnknownEncodingError")
      assert.include(error.message, "klingon")
      assert.include(error.message, "effect-tcp-server encodings")
    }))

  it.effect("reports a host that is not an address of this machine", () =>
    Effect.gen(function*() {
      // 192.0.2.1 is reserved for documentation (RFC 5737): never a local address, nothing is sent to it.
      const error = yield* Effect.flip(Effect.scoped(TcpServer.make({ host: "192.0.2.1", port: 0 })))
      assert.strictEqual(error._tag, "TcpServerError")
      if (error._tag === "TcpServerError") assert.strictEqual(error.reason, "AddressNotAvailable")
      assert.include(error.message, "192.0.2.1")
    }))
})

class Greeting extends Context.Tag("test/Greeting")<Greeting, { readonly text: string }>() {}

describe("TcpServer.layer in an app", () => {
  it.scoped("composes with the app's own services", () =>
    Effect.gen(function*() {
      const greeter: Connection.Handler<Connection.ConnectionFailure, Greeting> = (connection) =>
        Effect.gen(function*() {
          const greeting = yield* Greeting
          yield* Stream.runForEach(Connection.input(connection), (text) => connection.send(`${greeting.text}, ${text}`))
        })
      const AppLayer = TcpServer.layer({ host: "127.0.0.1", port: 0, handler: greeter }).pipe(
        Layer.provide(Layer.succeed(Greeting, { text: "你好" }))
      )
      const { address } = yield* TcpServer.TcpServer.pipe(Effect.provide(AppLayer))
      // Effect.provide closed the layer again: the server must be gone.
      const refused = yield* Effect.exit(Effect.scoped(connect(address.port)))
      assert.isTrue(Exit.isFailure(refused))

      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(AppLayer, scope)
      const server = Context.get(context, TcpServer.TcpServer)
      const client = yield* connect(server.address.port)
      yield* client.write(gbk("世界"))
      const expected = gbk("你好, 世界")
      assert.deepStrictEqual(yield* client.read(expected.length), expected)
      yield* Scope.close(scope, Exit.void)
      yield* client.closed
    }))
})

describe("TcpServer.layerTest", () => {
  it.scoped("starts a server on a free loopback port with a client bound to it", () =>
    Effect.gen(function*() {
      const { address } = yield* TcpServer.TcpServer
      assert.strictEqual(address.host, "127.0.0.1")
      const client = yield* (yield* TestClient.TestClient).connect
      yield* client.write(gbk("你好"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
    }).pipe(Effect.provide(TcpServer.layerTest())))
})
