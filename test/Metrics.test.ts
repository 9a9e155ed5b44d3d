import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, MetricLabel } from "effect"
import { Metrics } from "../src/index.js"

const reason = (value: string) => [MetricLabel.make("reason", value)]

describe("Metrics", () => {
  it.effect("counts through the synchronous updates", () =>
    Effect.gen(function*() {
      yield* Metrics.register
      const accepted = (yield* Metric.value(Metrics.connectionsAccepted)).count
      const active = (yield* Metric.value(Metrics.connectionsActive)).value
      const idle = Metrics.connectionsClosed.unsafeValue(reason("idle")).count
      const perIp = Metrics.connectionsRefused.unsafeValue(reason("per_ip")).count
      const bytes = (yield* Metric.value(Metrics.receivedBytes)).count
      const replies = (yield* Metric.value(Metrics.replySeconds)).count
      Metrics.unsafeAccepted()
      Metrics.unsafeAccepted()
      Metrics.unsafeClosed("idle")
      Metrics.unsafeRefused("per_ip")
      Metrics.unsafeIncrement(Metrics.receivedBytes, 1500)
      Metrics.unsafeReplySeconds(0.0003)
      assert.strictEqual((yield* Metric.value(Metrics.connectionsAccepted)).count, accepted + 2)
      assert.strictEqual((yield* Metric.value(Metrics.connectionsActive)).value, active + 1)
      assert.strictEqual(Metrics.connectionsClosed.unsafeValue(reason("idle")).count, idle + 1)
      assert.strictEqual(Metrics.connectionsRefused.unsafeValue(reason("per_ip")).count, perIp + 1)
      assert.strictEqual((yield* Metric.value(Metrics.receivedBytes)).count, bytes + 1500)
      const histogram = yield* Metric.value(Metrics.replySeconds)
      assert.strictEqual(histogram.count, replies + 1)
      assert.deepStrictEqual(
        histogram.buckets.map(([boundary]) => boundary).filter(Number.isFinite),
        [...Metrics.replySecondsBoundaries]
      )
    }))

  it.effect("registers every series with the tcp_server_ prefix", () =>
    Effect.gen(function*() {
      yield* Metrics.register
      const names = new Set(
        Metric.unsafeSnapshot().filter(({ metricKey }) => metricKey.name.startsWith("tcp_server_")).map((
          { metricKey }
        ) => `${metricKey.name}${metricKey.tags.map((tag) => `{${tag.key}=${tag.value}}`).join("")}`)
      )
      for (const why of Metrics.refuseReasons) assert.isTrue(names.has(`tcp_server_connections_refused{reason=${why}}`))
      for (const why of Metrics.closeReasons) assert.isTrue(names.has(`tcp_server_connections_closed{reason=${why}}`))
      for (
        const name of [
          "tcp_server_connections_accepted",
          "tcp_server_connections_active",
          "tcp_server_received_bytes",
          "tcp_server_sent_bytes",
          "tcp_server_frames_received",
          "tcp_server_replies_sent",
          "tcp_server_frames_oversized",
          "tcp_server_frames_undecodable",
          "tcp_server_handler_failures",
          "tcp_server_handler_defects",
          "tcp_server_accept_errors",
          "tcp_server_reply_seconds"
        ]
      ) assert.isTrue(names.has(name), name)
      assert.isFalse(names.has("tcp_server_connections_refused"))
    }))
})
