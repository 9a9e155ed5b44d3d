import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue, Schema } from "effect"
import Iconv from "iconv-lite"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Handler } from "../src/index.js"
import { eventually, spawn, spawnNode } from "./utils/Bin.js"
import { connect } from "./utils/Client.js"

// The observability flags of `serve`, end to end through the built CLI (`npm run build`).

const replyBytes = Iconv.encode(Handler.defaultReply, "gbk")
// What a hostile client sends to forge a log line and repaint the operator's terminal.
const hostile = "hi\r\n{\"level\":\"error\",\"message\":\"forged\"}\nlevel=error message=forged\x1b[2J\x07"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "cli-observability-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const JsonRecord = Schema.Struct({
  timestamp: Schema.String,
  level: Schema.String,
  message: Schema.String,
  event: Schema.optional(Schema.String),
  connection: Schema.optional(Schema.Number),
  remote_address: Schema.optional(Schema.String),
  remote_port: Schema.optional(Schema.Number),
  text: Schema.optional(Schema.String),
  bytes: Schema.optional(Schema.Number),
  hex: Schema.optional(Schema.String)
})
const parseRecord = Schema.decodeUnknownSync(Schema.parseJson(JsonRecord))

/** One client connects, sends `text` (in one write: one message in chunk framing), reads the reply, leaves. */
const visit = (port: number, text: string) =>
  Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write(Iconv.encode(text, "gbk"))
    yield* client.read(replyBytes.length)
    yield* client.end
    yield* client.closed
    return client.localPort
  }).pipe(Effect.scoped)

/** `serve` on a free port of 127.0.0.1 with `flags`. */
const serve = (...flags: Array<string>) => spawn(["serve", "--host", "127.0.0.1", "--port", "0", ...flags])

describe("serve --log-format", () => {
  it.scoped("json: one object per line with the event's fields; a client's text cannot break a line", () =>
    Effect.gen(function*() {
      const child = yield* serve("--log-format", "json")
      // stdout holds only records: the start line is on stderr.
      const [, port] = yield* child.waitForStderr(/^effect-tcp-server listening on 127\.0\.0\.1:(\d+) /)
      const clientPort = yield* visit(Number(port), hostile)
      yield* child.waitForLine(/"event":"disconnected"/)
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })

      const lines = child.stdout().split("\n").filter((line) => line !== "")
      const records = lines.map((line) => parseRecord(line))
      assert.deepStrictEqual(records.map((record) => record.event), ["connected", "message", "disconnected"])
      for (const record of records) {
        assert.strictEqual(new Date(record.timestamp).toISOString(), record.timestamp)
        assert.strictEqual(record.level, "info")
        assert.strictEqual(record.connection, 1)
        assert.strictEqual(record.remote_address, "127.0.0.1")
        assert.strictEqual(record.remote_port, clientPort)
      }
      const message = records[1]!
      assert.strictEqual(message.text, hostile)
      assert.strictEqual(message.bytes, Buffer.byteLength(hostile))
      assert.notInclude(child.stdout(), "\x1b")
      assert.notInclude(child.stdout(), "\r")
    }))

  it.scoped("json: several clients' lines of every kind, split across writes, are one record each with the decoded text", () =>
    Effect.gen(function*() {
      const child = yield* serve("--log-format", "json", "--encoding", "gb18030", "--framing", "line", "--no-reply")
      const [, port] = yield* child.waitForStderr(/^effect-tcp-server listening on 127\.0\.0\.1:(\d+) /)
      // Long enough for Node's encoder, quotes and controls, a character outside the BMP (a surrogate pair),
      // bytes that are not gb18030, and an empty line.
      const lines = [
        Iconv.encode("长".repeat(150) + " and ascii ".repeat(10), "gb18030"),
        Iconv.encode("quote \" backslash \\ tab \t bell \x07 del \x7f sep \u2028 end", "gb18030"),
        Iconv.encode("emoji 😀 and 你好", "gb18030"),
        Buffer.from([0x61, 0x81, 0x20, 0xff, 0x62]),
        Buffer.alloc(0)
      ]
      const expected = lines.map((bytes) => Iconv.decode(bytes, "gb18030"))
      const stream = Buffer.concat(lines.flatMap((bytes) => [bytes, Buffer.from("\n")]))
      const clients = 4
      const ports = yield* Effect.forEach(Array.from({ length: clients }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          const client = yield* connect(Number(port))
          // Cut at different places for each client, through characters too.
          for (let at = 0; at < stream.length; at += 7 + i) yield* client.write(stream.subarray(at, at + 7 + i))
          yield* client.end
          yield* client.closed
          return client.localPort
        }).pipe(Effect.scoped), { concurrency: "unbounded" })
      const disconnected = () => child.stdout().split("\n").filter((line) => line.includes(`"event":"disconnected"`))
      yield* child.until(() => disconnected().length >= clients)
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
      const records = child.stdout().split("\n").filter((line) => line !== "").map((line) => parseRecord(line))
      for (const clientPort of ports) {
        const messages = records.filter((record) => record.remote_port === clientPort && record.event === "message")
        assert.deepStrictEqual(messages.map((record) => record.text), expected)
        assert.deepStrictEqual(messages.map((record) => record.bytes), lines.map((bytes) => bytes.length))
      }
    }))

  it.scoped("json with --display hex: a message's record carries its bytes in hex, and its message is the hex", () =>
    Effect.gen(function*() {
      const child = yield* serve("--log-format", "json", "--display", "hex")
      const [, port] = yield* child.waitForStderr(/^effect-tcp-server listening on 127\.0\.0\.1:(\d+) /)
      const clientPort = yield* visit(Number(port), "你好")
      yield* child.waitForLine(/"event":"disconnected"/)
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
      const records = child.stdout().split("\n").filter((line) => line !== "").map((line) => parseRecord(line))
      assert.deepStrictEqual(records.map((record) => record.hex), [undefined, "c4 e3 ba c3", undefined])
      assert.strictEqual(records[1]?.message, `c4 e3 ba c3 ('127.0.0.1', ${clientPort})`)
      assert.strictEqual(records[1]?.text, "你好")
    }))

  it.scoped("logfmt: key=value records; a client's newlines and escape sequences stay inside one quoted value", () =>
    Effect.gen(function*() {
      const child = yield* serve("--log-format", "logfmt")
      const [, port] = yield* child.waitForStderr(/^effect-tcp-server listening on 127\.0\.0\.1:(\d+) /)
      const clientPort = yield* visit(Number(port), hostile)
      yield* child.waitForLine(/ event=disconnected /)
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })

      const lines = child.stdout().split("\n").filter((line) => line !== "")
      assert.strictEqual(lines.length, 3)
      for (const line of lines) {
        assert.match(line, /^timestamp=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info message="/)
        assert.include(line, ` connection=1 remote_address=127.0.0.1 remote_port=${clientPort}`)
      }
      assert.include(
        lines[1]!,
        " text=\"hi\\r\\n{\\\"level\\\":\\\"error\\\",\\\"message\\\":\\\"forged\\\"}\\nlevel=error message=forged" +
          `\\x1b[2J\\x07" bytes=${Buffer.byteLength(hostile)}`
      )
      assert.notInclude(child.stdout(), "\x1b")
      assert.notInclude(child.stdout(), "\r")
    }))

  it.scopedLive("--log-file appends there; after a rename and SIGHUP the lines go to the new file, none lost", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "server.log")
      Fs.writeFileSync(file, "an earlier line\n")
      const child = yield* serve("--log-format", "json", "--log-file", file)
      const [, port] = yield* child.waitForStderr(/listening on 127\.0\.0\.1:(\d+)/)
      const read = (path: string) => Fs.existsSync(path) ? Fs.readFileSync(path, "utf8") : ""
      const client = yield* connect(Number(port))
      yield* client.write(Iconv.encode("before", "gbk"))
      yield* client.read(replyBytes.length)
      yield* eventually(Effect.sync(() => assert.include(read(file), "\"text\":\"before\"")), "10 seconds")

      Fs.renameSync(file, `${file}.1`)
      child.process.kill("SIGHUP")
      yield* eventually(Effect.sync(() => assert.include(read(file), "SIGHUP: log file reopened")), "10 seconds")
      yield* client.write(Iconv.encode("after", "gbk"))
      yield* client.read(replyBytes.length)
      // Still connected at the signal: the shutdown's lines are the last ones, and must all be written.
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
      yield* client.closed
      assert.strictEqual(child.stdout(), "")

      const [earlier, ...old] = read(`${file}.1`).split("\n").filter((line) => line !== "")
      assert.strictEqual(earlier, "an earlier line")
      assert.deepStrictEqual(old.map((line) => parseRecord(line).event), ["connected", "message"])
      const current = read(file).split("\n").filter((line) => line !== "").map((line) => parseRecord(line))
      assert.deepStrictEqual(current.map((record) => record.text ?? record.message), [
        "SIGHUP: log file reopened",
        "after",
        "shutting down: closing 1 connection",
        "客户端下线了: ('127.0.0.1', " + client.localPort + ")",
        "shutdown: 1 connection closed"
      ])
    }))
})

describe("serve --metrics-port", () => {
  it.scoped("prints where the metrics are and serves them", () =>
    Effect.gen(function*() {
      const child = yield* serve("--metrics-port", "0")
      yield* child.waitForLine(/^effect-tcp-server listening on /)
      const [, metrics] = yield* child.waitForLine(/^metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/)
      const body = yield* Effect.promise(() => fetch(metrics!).then((response) => response.text()))
      assert.include(body, "tcp_server_connections_accepted_total 0")
      const ready = yield* Effect.promise(() => fetch(metrics!.replace("/metrics", "/readyz")))
      assert.strictEqual(ready.status, 200)
    }))

  it.scoped("a metrics port in use is one line and exit code 1", () =>
    Effect.gen(function*() {
      const taken = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const server = Net.createServer()
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const address = taken.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const child = yield* serve("--metrics-port", String(port))
      assert.deepStrictEqual(yield* child.exited, { code: 1, signal: null })
      assert.strictEqual(
        child.stderr(),
        `effect-tcp-server: metrics port ${port} on 127.0.0.1 is already in use: stop the program using it or ` +
          "choose another port\n"
      )
    }))
})

const OtlpTraces = Schema.Struct({
  resourceSpans: Schema.Array(Schema.Struct({
    scopeSpans: Schema.Array(Schema.Struct({
      spans: Schema.Array(Schema.Struct({
        name: Schema.String,
        attributes: Schema.Array(Schema.Struct({
          key: Schema.String,
          value: Schema.Struct({
            intValue: Schema.optional(Schema.Unknown),
            stringValue: Schema.optional(Schema.String)
          })
        }))
      }))
    }))
  }))
})

/** A collector for the test: records the spans of every request to /v1/traces. */
const collector = Effect.gen(function*() {
  const received = yield* Queue.unbounded<typeof OtlpTraces.Type>()
  const server = yield* NodeHttpServer.make(() => Http.createServer(), { host: "127.0.0.1", port: 0 })
  yield* HttpServer.serveEffect(HttpRouter.empty.pipe(
    HttpRouter.post(
      "/v1/traces",
      Effect.gen(function*() {
        yield* Queue.offer(received, yield* HttpServerRequest.schemaBodyJson(OtlpTraces))
        return HttpServerResponse.empty({ status: 200 })
      })
    )
  )).pipe(Effect.provideService(HttpServer.HttpServer, server))
  const port = server.address._tag === "TcpAddress" ? server.address.port : 0
  return { endpoint: `http://127.0.0.1:${port}`, received }
})

const tracedConnection = (
  args: (endpoint: string) => ReadonlyArray<string>,
  env: (endpoint: string) => Record<string, string>
) =>
  Effect.gen(function*() {
    const { endpoint, received } = yield* collector
    const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0", ...args(endpoint)], env(endpoint))
    const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
    const clientPort = yield* visit(Number(port), "你好")
    yield* child.waitForLine(/^客户端下线了/)
    // Spans are sent every 5 seconds, and what is pending when the server stops.
    child.process.kill("SIGTERM")
    assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
    const requests = yield* Queue.takeAll(received)
    const spans = [...requests].flatMap((r) => r.resourceSpans.flatMap((s) => s.scopeSpans.flatMap((s) => s.spans)))
    const connection = spans.filter((span) => span.name === "tcp_server.connection")
    assert.strictEqual(connection.length, 1)
    const attributes = new Map(connection[0]!.attributes.map((a) => [a.key, a.value.intValue ?? a.value.stringValue]))
    assert.strictEqual(attributes.get("network.peer.address"), "127.0.0.1")
    assert.strictEqual(Number(attributes.get("network.peer.port")), clientPort)
    assert.strictEqual(Number(attributes.get("tcp_server.bytes_received")), 4)
    assert.strictEqual(Number(attributes.get("tcp_server.frames_received")), 1)
    assert.strictEqual(attributes.get("tcp_server.close_reason"), "eof")
  })

describe("serve --otlp-endpoint", () => {
  it.scopedLive(
    "sends the span of a real connection to the collector",
    () => tracedConnection((endpoint) => ["--otlp-endpoint", endpoint], () => ({})),
    { timeout: 20_000 }
  )

  it.scopedLive(
    "takes the standard OTEL_EXPORTER_OTLP_ENDPOINT too",
    () => tracedConnection(() => [], (endpoint) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })),
    { timeout: 20_000 }
  )
})

describe("serve's start", () => {
  // A module hook that appends the URL of every module loaded to the file named by OBSERVE_TEST_MODULE_LOG.
  const hooks = "import * as Fs from \"node:fs\"\n" +
    "export async function load(url, context, next) {\n" +
    "  Fs.appendFileSync(process.env.OBSERVE_TEST_MODULE_LOG, url + \"\\n\")\n" +
    "  return next(url, context)\n" +
    "}\n"
  const registration = `import { register } from "node:module"\nregister(${
    JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)
  })\n`
  const unbundled = Path.join(import.meta.dirname, "utils", "cli-unbundled.mjs")

  /** The modules `serve` loads until it listens, from tsc's modules (the bundled `dist/bin.js` is one file). */
  const modulesLoadedBy = (args: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const log = Path.join(yield* tempDir, "modules.log")
      const child = yield* spawnNode([
        "--import",
        `data:text/javascript,${encodeURIComponent(registration)}`,
        unbundled,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        ...args
      ], { OBSERVE_TEST_MODULE_LOG: log })
      yield* child.waitForLine(/^effect-tcp-server listening on /)
      child.process.kill("SIGTERM")
      yield* child.exited
      return Fs.readFileSync(log, "utf8").split("\n")
    })

  const otel = (urls: ReadonlyArray<string>) =>
    urls.filter((url) => /\/(@effect\/opentelemetry|@opentelemetry)\//.test(url))
  const loaded = (urls: ReadonlyArray<string>, module: string) => urls.some((url) => url.endsWith(`/dist/${module}`))

  it.scoped("loads OpenTelemetry only for --metrics-port or --otlp-endpoint", () =>
    Effect.gen(function*() {
      const plain = yield* modulesLoadedBy([])
      assert.isTrue(loaded(plain, "TcpServer.js"), "the hook saw the server load")
      assert.deepStrictEqual(otel(plain), [])
      assert.isFalse(loaded(plain, "MetricsServer.js"))
      assert.isFalse(loaded(plain, "Tracing.js"))
      const metrics = yield* modulesLoadedBy(["--metrics-port", "0"])
      assert.isTrue(loaded(metrics, "MetricsServer.js"))
      assert.isFalse(loaded(metrics, "Tracing.js"))
      const tracing = yield* modulesLoadedBy(["--otlp-endpoint", "http://127.0.0.1:9"])
      assert.isTrue(loaded(tracing, "Tracing.js"))
      assert.isAbove(otel(tracing).length, 0)
    }), { timeout: 30_000 })
})
