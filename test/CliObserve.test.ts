import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Logger, Option } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Observe from "../src/cli/observe.js"
import { connect } from "./utils/Client.js"
import { gbk, replyBytes, startServer } from "./utils/Server.js"

const settings: Observe.Settings = {
  logFormat: "tutorial",
  logFile: Option.none(),
  metricsPort: Option.none(),
  metricsHost: "127.0.0.1",
  otlpEndpoint: Option.none()
}

/** The connection spans of one real connection, with `layer` between the SDK's tracer and the server. */
const connectionSpans = (layer: Layer.Layer<never>) => {
  const exporter = new InMemorySpanExporter()
  return Effect.gen(function*() {
    const { close, port } = yield* startServer()
    yield* Effect.scoped(Effect.gen(function*() {
      const client = yield* connect(port)
      yield* client.write(gbk("你好"))
      yield* client.read(replyBytes.length)
      yield* client.end
      yield* client.closed
    }))
    yield* close
    return exporter.getFinishedSpans().filter((span) => span.name === "tcp_server.connection").length
  }).pipe(
    Effect.scoped,
    Effect.provide(layer),
    Effect.provide(NodeSdk.layer(() => ({ spanProcessor: new SimpleSpanProcessor(exporter) })))
  )
}

describe("serve's observability layers", () => {
  it.scopedLive("without --otlp-endpoint the tracer is off: a connection opens no span", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* connectionSpans(Layer.empty), 1, "with a tracer, a connection has its span")
      assert.strictEqual(yield* connectionSpans(Observe.tracing(settings)), 0)
    }))

  it.scopedLive("the logger of serve replaces the one installed before it: each line is written once, to the file", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "cli-observe-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const file = Path.join(dir, "server.log")
      const outer: Array<unknown> = []
      yield* Effect.logInfo("to the file").pipe(
        Effect.annotateLogs("event", "test"),
        Effect.provide(Observe.logging({ ...settings, logFormat: "logfmt", logFile: Option.some(file) })),
        Effect.provide(Logger.add(Logger.make(({ message }) => outer.push(message))))
      )
      assert.deepStrictEqual(outer, [])
      assert.match(Fs.readFileSync(file, "utf8"), /^timestamp=\S+ level=info message="to the file" event=test\n$/)
    }))
})
