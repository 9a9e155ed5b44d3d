import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { ConfigError, ConfigProvider, Effect, Exit, Layer, Queue, Schema, Scope } from "effect"
import * as Http from "node:http"
import { Connection, Framing } from "../src/index.js"
import * as Tracing from "../src/Tracing.js"
import { connect } from "./utils/Client.js"
import { startServer } from "./utils/Server.js"

// One connection's life as the server traces it, opened by hand (withConnectionSpan around the connection, a frame
// event per frame, a handler span, the totals at the end): for the limit on frame events and the exporters.
const connection = Effect.gen(function*() {
  const span = yield* Effect.currentSpan
  Tracing.unsafeFrameEvent(span, 1, 5)
  yield* Effect.void.pipe(Effect.withSpan("handler"))
  Tracing.unsafeFrameEvent(span, 2, 3)
  // Past the limit: not recorded.
  Tracing.unsafeFrameEvent(span, Tracing.maxFrameEvents + 1, 9)
  Tracing.unsafeEndConnection(span, {
    bytesReceived: 8,
    bytesSent: 40,
    framesReceived: 2,
    repliesSent: 2,
    closeReason: "eof"
  })
}).pipe(Tracing.withConnectionSpan({ id: 7, remoteAddress: "127.0.0.1", remotePort: 50123 }))

describe("Tracing", () => {
  it.live("a real connection's span: its peer, totals, frame events and the handler's span as a child", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      // A handler that opens a span of its own for each frame.
      const handler = (connection: Connection.Connection) =>
        Connection.forEachFrame(
          connection,
          (frame) => connection.send(`got ${frame.text}`).pipe(Effect.withSpan("handler"))
        )
      const { clientPort, spans } = yield* Effect.gen(function*() {
        const { close, port } = yield* startServer({ handler, framing: Framing.line() })
        const clientPort = yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* connect(port)
          yield* client.write("ab\ncde\n")
          yield* client.read("got ab\ngot cde\n".length)
          yield* client.end
          yield* client.closed
          return client.localPort
        }))
        yield* close
        // Read before the SDK shuts down, which empties the exporter.
        return { clientPort, spans: exporter.getFinishedSpans() }
      }).pipe(
        Effect.scoped,
        Effect.provide(NodeSdk.layer(() => ({ spanProcessor: new SimpleSpanProcessor(exporter) })))
      )
      const root = spans.find((span) => span.name === Tracing.connectionSpanName)
      const handlers = spans.filter((span) => span.name === "handler")
      assert.isDefined(root)
      assert.strictEqual(handlers.length, 2)
      for (const span of handlers) assert.strictEqual(span.parentSpanContext?.spanId, root!.spanContext().spanId)
      assert.isUndefined(root!.parentSpanContext)
      assert.deepInclude(root!.attributes, {
        "connection.id": 1,
        "network.peer.address": "127.0.0.1",
        "network.peer.port": clientPort,
        "tcp_server.bytes_received": 7,
        "tcp_server.bytes_sent": "got ab\ngot cde\n".length,
        "tcp_server.frames_received": 2,
        "tcp_server.replies_sent": 2,
        "tcp_server.close_reason": "eof"
      })
      // A frame's bytes, without its line ending.
      assert.deepStrictEqual(root!.events.map((event) => [event.name, event.attributes]), [
        ["frame", { "tcp_server.frame_bytes": 2 }],
        ["frame", { "tcp_server.frame_bytes": 3 }]
      ])
      // Event times are on the span's (real) clock, between its start and its end.
      const toNanos = ([seconds, nanos]: readonly [number, number]) => seconds * 1e9 + nanos
      for (const event of root!.events) {
        assert.isAtLeast(toNanos(event.time), toNanos(root!.startTime) - 1e6)
        assert.isAtMost(toNanos(event.time), toNanos(root!.endTime) + 1e6)
      }
    }))

  it.live("frame events stop at the limit", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const spans = yield* connection.pipe(
        Effect.andThen(() => exporter.getFinishedSpans()),
        Effect.provide(NodeSdk.layer(() => ({ spanProcessor: new SimpleSpanProcessor(exporter) })))
      )
      const root = spans.find((span) => span.name === Tracing.connectionSpanName)
      assert.strictEqual(root!.events.length, 2)
    }))

  it.live("a real connection of more frames than the limit: its first frames as events, all of them counted", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const frames = Tracing.maxFrameEvents + 72
      const handler: Connection.Handler = (connection) => connection.respond(() => undefined)
      const spans = yield* Effect.gen(function*() {
        const { close, port } = yield* startServer({ handler, framing: Framing.line() })
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* connect(port)
          yield* client.write("x\n".repeat(frames))
          yield* client.end
          yield* client.closed
        }))
        yield* close
        return exporter.getFinishedSpans()
      }).pipe(
        Effect.scoped,
        Effect.provide(NodeSdk.layer(() => ({
          spanProcessor: new SimpleSpanProcessor(exporter),
          // The SDK's own limit is also 128 events by default: raised here, so that the server's limit is tested.
          tracerConfig: { spanLimits: { eventCountLimit: 10 * frames } }
        })))
      )
      const root = spans.find((span) => span.name === Tracing.connectionSpanName)
      assert.isDefined(root)
      assert.strictEqual(root!.events.length, Tracing.maxFrameEvents)
      assert.strictEqual(root!.attributes["tcp_server.frames_received"], frames)
    }))

  it.effect("layerConfig without an endpoint turns tracing off", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const sdk = NodeSdk.layer(() => ({ spanProcessor: new SimpleSpanProcessor(exporter) }))
      const traced = (layer: Layer.Layer<never, ConfigError.ConfigError>) =>
        connection.pipe(
          Effect.andThen(() => exporter.getFinishedSpans().length),
          Effect.provide(layer),
          Effect.provide(sdk),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TCP_SERVER_OTLP_ENDPOINT", ""]])))
        )
      assert.strictEqual(yield* traced(Layer.empty), 2)
      assert.strictEqual(yield* traced(Tracing.layerConfig), 0)
    }))
})

const OtlpTraces = Schema.Struct({
  resourceSpans: Schema.Array(Schema.Struct({
    scopeSpans: Schema.Array(Schema.Struct({
      spans: Schema.Array(Schema.Struct({
        name: Schema.String,
        attributes: Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.Unknown }))
      }))
    }))
  }))
})

describe("Tracing.layer", () => {
  it.scopedLive("sends the spans over OTLP/HTTP to the collector at the endpoint", () =>
    Effect.gen(function*() {
      // A collector for the test: records every request to /v1/traces.
      const received = yield* Queue.unbounded<typeof OtlpTraces.Type>()
      const server = yield* NodeHttpServer.make(() => Http.createServer(), { host: "127.0.0.1", port: 0 })
      yield* HttpServer.serveEffect(HttpRouter.empty.pipe(
        HttpRouter.post(
          "/v1/traces",
          Effect.gen(function*() {
            const body = yield* HttpServerRequest.schemaBodyJson(OtlpTraces)
            yield* Queue.offer(received, body)
            return HttpServerResponse.empty({ status: 200 })
          })
        )
      )).pipe(Effect.provideService(HttpServer.HttpServer, server))
      const port = server.address._tag === "TcpAddress" ? server.address.port : 0

      const scope = yield* Scope.make()
      const tracing = yield* Layer.buildWithScope(
        Tracing.layer({ endpoint: `http://127.0.0.1:${port}/`, exportInterval: "1 hour" }),
        scope
      )
      yield* connection.pipe(Effect.provide(tracing))
      // Released: what is pending is sent.
      yield* Scope.close(scope, Exit.void)
      const request = yield* Queue.take(received)
      const spans = request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
      assert.deepStrictEqual(spans.map((span) => span.name).sort(), ["handler", Tracing.connectionSpanName])
      const root = spans.find((span) => span.name === Tracing.connectionSpanName)!
      assert.includeMembers(root.attributes.map((attribute) => attribute.key), [
        "connection.id",
        "network.peer.address",
        "network.peer.port",
        "tcp_server.close_reason"
      ])
    }))
})
