import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Metrics } from "../src/index.js"
import * as MetricsServer from "../src/MetricsServer.js"

const get = (port: number, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
  })

/** Starts a metrics server for the rest of the test's scope. */
const start = (port = 0) =>
  Effect.map(Layer.build(MetricsServer.layer({ port })), (context) => ({
    port: Context.get(context, MetricsServer.MetricsServer).port,
    readiness: Context.get(context, MetricsServer.Readiness)
  }))

const sample = (body: string, series: string): number | undefined => {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe("MetricsServer", () => {
  it.scoped("serves the metrics in the Prometheus text format", () =>
    Effect.gen(function*() {
      const { port } = yield* start()
      const before = yield* get(port, "/metrics")
      assert.strictEqual(before.status, 200)
      assert.strictEqual(before.type, MetricsServer.contentType)
      assert.include(before.body, "# TYPE tcp_server_connections_accepted_total counter")
      assert.include(before.body, "# TYPE tcp_server_connections_active gauge")
      assert.include(before.body, "# TYPE tcp_server_reply_seconds histogram")
      for (const why of Metrics.closeReasons) {
        assert.isDefined(sample(before.body, `tcp_server_connections_closed_total{reason="${why}"}`), why)
      }
      const accepted = sample(before.body, "tcp_server_connections_accepted_total")!
      const reset = sample(before.body, "tcp_server_connections_closed_total{reason=\"reset\"}")!
      const descriptors = sample(before.body, "tcp_server_connections_refused_total{reason=\"descriptors\"}")!
      const slow = sample(before.body, "tcp_server_reply_seconds_bucket{le=\"2.5\"}")!
      const fast = sample(before.body, "tcp_server_reply_seconds_bucket{le=\"0.0001\"}")!
      Metrics.unsafeAccepted()
      Metrics.unsafeClosed("reset")
      Metrics.unsafeRefused("descriptors")
      Metrics.unsafeReplySeconds(2)
      const after = yield* get(port, "/metrics")
      assert.strictEqual(sample(after.body, "tcp_server_connections_accepted_total"), accepted + 1)
      assert.strictEqual(sample(after.body, "tcp_server_connections_closed_total{reason=\"reset\"}"), reset + 1)
      assert.strictEqual(
        sample(after.body, "tcp_server_connections_refused_total{reason=\"descriptors\"}"),
        descriptors + 1
      )
      assert.strictEqual(sample(after.body, "tcp_server_reply_seconds_bucket{le=\"2.5\"}"), slow + 1)
      assert.strictEqual(sample(after.body, "tcp_server_reply_seconds_bucket{le=\"0.0001\"}"), fast)
    }))

  it.scoped("answers /healthz, /readyz from the readiness flag, and 404 elsewhere", () =>
    Effect.gen(function*() {
      const { port, readiness } = yield* start()
      assert.strictEqual((yield* get(port, "/healthz")).status, 200)
      assert.strictEqual((yield* get(port, "/readyz")).status, 503)
      yield* readiness.setReady(true)
      assert.strictEqual((yield* get(port, "/readyz")).status, 200)
      yield* readiness.setReady(false)
      assert.strictEqual((yield* get(port, "/readyz")).status, 503)
      assert.strictEqual((yield* get(port, "/nope")).status, 404)
      assert.strictEqual((yield* get(port, "/metrics/x")).status, 404)
    }))

  it.scoped("says in one line that the port is in use", () =>
    Effect.gen(function*() {
      const { port } = yield* start()
      const error = yield* Effect.flip(start(port))
      assert.strictEqual(error._tag, "MetricsServerError")
      assert.strictEqual(
        error.message,
        `metrics port ${port} on 127.0.0.1 is already in use: stop the program using it or choose another port`
      )
    }))
})
