import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import * as ChildProcess from "node:child_process"
import { Connection, Encoding, Framing, Handler, TcpServer } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { gbk, replyBytes, startServer } from "./utils/Server.js"

/**
 * `count` clients that connect, send a byte and reset the connection (SO_LINGER 0) at once — while this process's
 * event loop is blocked (spawnSync), so the resets happen before the server accepts: Node then has no address
 * for these sockets.
 */
const connectAndReset = (port: number, count: number) =>
  Effect.sync(() => {
    const script = [
      "import socket, struct, sys",
      `for _ in range(${count}):`,
      `    s = socket.create_connection(("127.0.0.1", ${port}))`,
      "    s.send(b'x')",
      "    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))",
      "    s.close()"
    ].join("\n")
    const result = ChildProcess.spawnSync("python3", ["-c", script], { encoding: "utf8" })
    if (result.status !== 0) throw new Error(`python3 failed: ${result.stderr}`)
  })

/** A handler that counts the connections it was run for, and answers with the tutorial's reply. */
const counting = () => {
  const served = { count: 0 }
  const handler: Connection.Handler = (connection) =>
    Effect.zipRight(Effect.sync(() => served.count++), connection.respond(() => replyBytes))
  return { served, handler }
}

describe("access control under hostile clients", () => {
  it.scoped("a denied client that resets before the server accepts never reaches the handler", () =>
    Effect.gen(function*() {
      const { handler, served } = counting()
      const { logs, port, server } = yield* startServer({ deny: ["127.0.0.0/8"], handler })
      yield* connectAndReset(port, 20)
      // Accepted in order: once this client's refusal is logged, the 20 before it have been decided.
      const last = yield* connect(port)
      yield* logs.waitFor((line) => line.includes(`refused 127.0.0.1:${last.localPort}`))
      yield* last.closed
      assert.strictEqual(served.count, 0)
      assert.strictEqual((yield* server.stats).accepted, 0)
      assert.isFalse(logs.lines.some((line) => line.includes("unknown")), "no connection of an unknown address served")
    }))

  it.scoped("resets before accept do not get around the per-address limit", () =>
    Effect.gen(function*() {
      const { handler, served } = counting()
      const { logs, port } = yield* startServer({ maxConnectionsPerIp: 1, handler })
      const first = yield* connect(port)
      yield* first.write(gbk("在吗"))
      yield* first.read(replyBytes.length)
      yield* connectAndReset(port, 20)
      const last = yield* connect(port)
      yield* logs.waitFor((line) => line.includes(`refused 127.0.0.1:${last.localPort}`))
      assert.strictEqual(served.count, 1)
    }))

  it.effect("an allow list with no address in it is a start-up error, not 'allow everyone'", () =>
    Effect.gen(function*() {
      for (const allow of [[], [""], [" "], ["", " "]]) {
        const error = yield* Effect.flip(Effect.scoped(TcpServer.make({ host: "127.0.0.1", port: 0, allow })))
        assert.strictEqual(error._tag, "TcpServerOptionError")
        assert.include(error.message, "an empty list would serve everyone")
      }
    }))
})

describe("log lines under hostile clients", () => {
  it.scoped("a client cannot forge log lines or send escape sequences to the terminal", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({ encoding: "utf8" })
      const client = yield* connect(port)
      const hostile = "hi\n客户端下线了: ('10.66.66.66', 4444)\r\x1b]0;owned\x07\x1b[2J\0\u202e"
      yield* client.write(Buffer.from(hostile, "utf8"))
      yield* client.read(Encoding.encode(Handler.defaultReply, "utf8").length)
      const line = yield* logs.waitFor((line) =>
        line.endsWith(`('127.0.0.1', ${client.localPort})`) && line.startsWith("hi")
      )
      assert.strictEqual(
        line,
        `hi\\n客户端下线了: ('10.66.66.66', 4444)\\r\\x1b]0;owned\\x07\\x1b[2J\\x00\\u202e ('127.0.0.1', ${client.localPort})`
      )
      // eslint-disable-next-line no-control-regex
      assert.isFalse(logs.lines.some((line) => /[\x00-\x1f\x7f]/.test(line)), "no control character reaches the log")
      // Ordinary text is shown as the tutorial shows it.
      yield* client.write(Buffer.from("你好, world \\ 'quoted'", "utf8"))
      yield* logs.waitFor((line) => line === `你好, world \\ 'quoted' ('127.0.0.1', ${client.localPort})`)
    }))

  it.scoped("a huge frame shown in hex is logged cut, with its length, and the server survives", () =>
    Effect.gen(function*() {
      const size = 37_000_000
      const { logs, port } = yield* startServer({
        framing: Framing.line({ maxFrameBytes: 40_000_000 }),
        handler: Handler.tutorial({ display: "both" })
      })
      const client = yield* connect(port)
      yield* client.write(Buffer.concat([Buffer.alloc(size, 0x41), Buffer.from("\n")]))
      yield* client.read(replyBytes.length + 1)
      const line = yield* logs.waitFor((line) => line.includes(`(${size} bytes)`))
      assert.isBelow(line.length, 2 * Handler.displayLimits.textCharacters)
      assert.include(line, `41 41 41 … (${size} bytes)]`)
    }))
})

describe("fairness", () => {
  it.scopedLive("one client flooding tiny frames does not hold up the others' round trips", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({ framing: Framing.line() })
      // The flood: 16 MiB of empty lines, its replies read as fast as they come.
      const flood = yield* connect(port)
      flood.socket.on("data", () => {})
      const chunk = Buffer.alloc(64 * 1024, 0x0a)
      let sent = 0
      const pump = () => {
        while (sent < 256 && flood.socket.write(chunk)) sent++
        if (sent < 256) flood.socket.once("drain", pump)
      }
      pump()
      const probe = yield* connect(port)
      const rtts: Array<number> = []
      const line = Buffer.concat([gbk("在吗"), Buffer.from("\n")])
      for (let i = 0; i < 30; i++) {
        const start = performance.now()
        yield* probe.write(line)
        yield* probe.read(replyBytes.length + 1)
        rtts.push(performance.now() - start)
      }
      rtts.sort((a, b) => a - b)
      const median = rtts[Math.floor(rtts.length / 2)] ?? Infinity
      // Without a budget per turn, the flood's frames are all answered before the probe's: about 1 s each.
      assert.isBelow(median, 100, `median round trip ${median.toFixed(1)} ms while another client floods`)
      assert.isAbove(sent, 0)
    }))
})

describe("shutdown under load", () => {
  it.scoped("a client still sending at shutdown gets every reply whole, then the goodbye, then FIN (no reset)", () =>
    Effect.gen(function*() {
      const { close, port } = yield* startServer({ goodbye: "再见" })
      // A client in another process that sends as fast as it can and reads what comes back, until the server's FIN;
      // it then reports what it received and whether the connection was reset.
      const script = [
        "import socket, sys, json",
        `s = socket.create_connection(("127.0.0.1", ${port}))`,
        "s.setblocking(False)",
        "data = bytearray(); reset = False; told = False",
        "msg = '消息'.encode('gbk') * 2048",
        "while True:",
        "    try:",
        "        s.send(msg)",
        "    except BlockingIOError: pass",
        "    except (ConnectionResetError, BrokenPipeError): reset = True; break",
        "    try:",
        "        chunk = s.recv(65536)",
        "        if not chunk: break",
        "        data += chunk",
        "        if not told: print('ready', flush=True); told = True",
        "    except BlockingIOError: pass",
        "    except ConnectionResetError: reset = True; break",
        "try: s.shutdown(socket.SHUT_WR)",
        "except OSError: pass",
        "print(json.dumps({'reset': reset, 'hex': data.hex()}), flush=True)"
      ].join("\n")
      const child = ChildProcess.spawn("python3", ["-c", script], { stdio: ["ignore", "pipe", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill()))
      const lines: Array<string> = []
      const done = yield* Deferred.make<void>()
      const ready = yield* Deferred.make<void>()
      let buffered = ""
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8")
        for (let index = buffered.indexOf("\n"); index >= 0; index = buffered.indexOf("\n")) {
          const line = buffered.slice(0, index)
          buffered = buffered.slice(index + 1)
          lines.push(line)
          if (line === "ready") Deferred.unsafeDone(ready, Exit.void)
          else Deferred.unsafeDone(done, Exit.void)
        }
      })
      yield* Deferred.await(ready)
      yield* close
      yield* Deferred.await(done)
      const result: unknown = JSON.parse(lines[lines.length - 1] ?? "{}")
      assert.isTrue(typeof result === "object" && result !== null && "reset" in result && "hex" in result)
      if (typeof result !== "object" || result === null || !("reset" in result) || !("hex" in result)) return
      assert.isFalse(result.reset, "the connection was not reset")
      const rest = Buffer.from(String(result.hex), "hex")
      const goodbye = gbk("再见")
      assert.isTrue(rest.subarray(rest.length - goodbye.length).equals(goodbye), "the goodbye arrives last")
      const replies = rest.subarray(0, rest.length - goodbye.length)
      assert.strictEqual(replies.length % replyBytes.length, 0, "no reply cut mid-bytes")
      assert.isAbove(replies.length, 0)
    }))

  it.scoped("every client the server has accepted gets the goodbye at shutdown", () =>
    Effect.gen(function*() {
      const { close, port } = yield* startServer({ goodbye: "再见" })
      const clients = yield* Effect.forEach(Array.from({ length: 60 }), () => connect(port), {
        concurrency: "unbounded"
      })
      // Accepted in order: once the last client is answered, the server has accepted every one. (Connections the
      // kernel holds that the server has not accepted are reset by the kernel when the listening socket closes.)
      const last = clients[clients.length - 1]
      if (last !== undefined) {
        yield* last.write(gbk("在吗"))
        yield* last.read(replyBytes.length)
      }
      yield* close
      const goodbye = gbk("再见")
      const rests = yield* Effect.forEach(clients, (client) => client.closed, { concurrency: "unbounded" })
      for (const [i, rest] of rests.entries()) {
        assert.isTrue(rest.equals(goodbye), `client ${i} got ${rest.toString("hex")}`)
      }
    }))

  it.scoped("the goodbye and busy texts are framed as replies are", () =>
    Effect.gen(function*() {
      const { close, port } = yield* startServer({
        framing: Framing.length(2),
        goodbye: "BYE",
        busyText: "busy",
        maxConnections: 1
      })
      const client = yield* connect(port)
      yield* client.write(Buffer.concat([Buffer.from([0, 4]), gbk("在吗")]))
      assert.deepStrictEqual(
        yield* client.read(2 + replyBytes.length),
        Buffer.concat([Buffer.from([0, replyBytes.length]), replyBytes])
      )
      const refused = yield* connect(port)
      assert.deepStrictEqual(yield* refused.closed, Buffer.from([0, 4, ...Buffer.from("busy")]))
      yield* close
      assert.deepStrictEqual(yield* client.closed, Buffer.from([0, 3, ...Buffer.from("BYE")]))
    }))

  it.scoped("in line framing the goodbye ends with a line ending", () =>
    Effect.gen(function*() {
      const { close, port } = yield* startServer({ framing: Framing.line(), goodbye: "再见" })
      const client = yield* connect(port)
      yield* client.write(Buffer.concat([gbk("在吗"), Buffer.from("\n")]))
      yield* client.read(replyBytes.length + 1)
      yield* close
      assert.deepStrictEqual(yield* client.closed, Buffer.concat([gbk("再见"), Buffer.from("\n")]))
    }))
})

describe("settings checked at start", () => {
  it.effect("texts the encoding cannot represent are refused, with the characters named", () =>
    Effect.gen(function*() {
      const start = (options: TcpServer.Options<Connection.ConnectionFailure>) =>
        Effect.flip(Effect.scoped(TcpServer.make({ host: "127.0.0.1", port: 0, ...options })))
      const reply = yield* start({ encoding: "shift_jis" })
      assert.strictEqual(reply._tag, "UnencodableTextError")
      assert.include(reply.message, `"问"`)
      assert.include(reply.message, "shift_jis")
      const goodbye = yield* start({ encoding: "latin1", handler: Handler.echo, goodbye: "你好" })
      assert.strictEqual(goodbye._tag, "UnencodableTextError")
      assert.include(goodbye.message, `goodbye text "你好"`)
      const busy = yield* start({ encoding: "ascii", handler: Handler.echo, busyText: "désolé" })
      assert.strictEqual(busy._tag, "UnencodableTextError")
      assert.include(busy.message, `"é"`)
      // The default reply is fine in the Chinese encodings.
      for (const encoding of ["gbk", "gb18030", "utf8"]) {
        const server = yield* Effect.exit(Effect.scoped(TcpServer.make({ host: "127.0.0.1", port: 0, encoding })))
        assert.isTrue(Exit.isSuccess(server), encoding)
      }
    }))

  it.effect("one rule for durations: 0 is off, negative, non-finite or too long is an error", () =>
    Effect.gen(function*() {
      const start = (options: TcpServer.Options) =>
        Effect.exit(Effect.scoped(TcpServer.make({ host: "127.0.0.1", port: 0, ...options })))
      const bads: Array<TcpServer.Options> = [
        { idleTimeout: -5 },
        { idleTimeout: Number.NaN },
        { idleTimeout: Infinity },
        { idleTimeout: "-5 seconds" },
        { writeTimeout: -1 },
        { writeTimeout: 2_147_484_000 },
        { shutdownGrace: -1 }
      ]
      for (const bad of bads) {
        const exit = yield* start(bad)
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(bad))
        if (Exit.isFailure(exit)) assert.include(String(exit.cause), "a duration from 0 to 24 days")
      }
      const goods: Array<TcpServer.Options> = [{ idleTimeout: 0 }, { writeTimeout: 0 }, {
        maxConnectionAge: "0 seconds"
      }]
      for (const good of goods) {
        assert.isTrue(Exit.isSuccess(yield* start(good)), JSON.stringify(good))
      }
    }))

  it.scoped("the connection's scope holds a handler's resources; the layer needs no Scope", () =>
    Effect.gen(function*() {
      const released = yield* Deferred.make<void>()
      const handler = (connection: Connection.Connection) =>
        Effect.acquireRelease(Effect.void, () => Deferred.succeed(released, undefined)).pipe(
          Effect.zipRight(connection.respond(() => replyBytes))
        )
      const { port } = yield* startServer({ handler })
      const client = yield* connect(port)
      yield* client.end
      yield* client.closed
      yield* Deferred.await(released)
    }))
})

describe("decoding across reads", () => {
  it.scoped("a character whose bytes span two reads loses nothing around it (gb18030, chunk framing)", () =>
    Effect.gen(function*() {
      const { logs, port, server } = yield* startServer({ encoding: "gb18030" })
      const reply = Encoding.encode(Handler.defaultReply, "gb18030")
      const client = yield* connect(port)
      const peer = `('127.0.0.1', ${client.localPort})`
      // "hi " and the first three bytes of 😀 (94 39 FC 36); the server's reply proves this was one read.
      yield* client.write(Buffer.from([0x68, 0x69, 0x20, 0x94, 0x39, 0xfc]))
      yield* client.read(reply.length)
      yield* client.write(Buffer.from([0x36, 0x21]))
      yield* client.read(reply.length)
      yield* logs.waitFor((line) => line === `😀! ${peer}`)
      assert.include(logs.lines, `hi  ${peer}`)
      // A stray lead byte followed by ASCII (gbk-style) keeps the ASCII.
      yield* client.write(Buffer.from("hello\x81", "latin1"))
      yield* client.read(reply.length)
      yield* client.write(Buffer.from(" world"))
      yield* client.read(reply.length)
      yield* logs.waitFor((line) => line === `\uFFFD world ${peer}`)
      assert.strictEqual((yield* server.stats).decodeErrors, 1)
    }))
})

describe("one reader per connection", () => {
  it.scoped("respond after receive is a defect that names the connection, not corrupted framing", () =>
    Effect.gen(function*() {
      const handler: Connection.Handler = (connection) =>
        Effect.zipRight(connection.receive, connection.respond(() => "ok"))
      const { logs, port } = yield* startServer({ handler, framing: Framing.line() })
      const client = yield* connect(port)
      yield* client.write("first\n")
      yield* client.closed
      const line = yield* logs.waitFor((line) => line.startsWith("ERROR connection"))
      assert.include(line, `connection 1 from 127.0.0.1:${client.localPort}`)
    }))

  it.scoped("the message names both readers", () =>
    Effect.gen(function*() {
      const failure = yield* Deferred.make<string>()
      const handler: Connection.Handler = (connection) =>
        Effect.zipRight(connection.receive, connection.respond(() => "ok")).pipe(
          Effect.catchAllDefect((defect) => Deferred.succeed(failure, String(defect)))
        )
      const { port } = yield* startServer({ handler, framing: Framing.line() })
      const client = yield* connect(port)
      yield* client.write("first\n")
      const message = yield* Deferred.await(failure)
      assert.include(message, "respond was used while the connection is read by receive")
      assert.include(message, "a connection has a single reader")
    }))
})
