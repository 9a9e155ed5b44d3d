/**
 * OpenTelemetry traces over OTLP/HTTP (JSON), through `@effect/opentelemetry`'s OTLP tracer: one span per
 * connection, named `tcp_server.connection`, with the connection's id and peer, and at its end the bytes in and
 * out, the frames and the reason it closed; a `frame` event per frame; and the spans of handlers that use
 * `Effect.withSpan` as its children.
 *
 * @since 0.1.0
 */
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as PerfHooks from "node:perf_hooks"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT`: spans go to `<endpoint>/v1/traces`. */
  readonly endpoint: string
  /** Default `effect-tcp-server`. */
  readonly serviceName?: string | undefined
  /** How often spans are sent (default 5 seconds); what is pending is sent when the layer is released. */
  readonly exportInterval?: Duration.DurationInput | undefined
}

/**
 * Sends the spans of every fiber under it to an OTLP/HTTP collector, batched.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<never> =>
  OtlpTracer.layer({
    url: `${options.endpoint.replace(/\/+$/, "")}/v1/traces`,
    resource: { serviceName: options.serviceName ?? "effect-tcp-server" },
    exportInterval: options.exportInterval
  }).pipe(Layer.provide(Layer.merge(FetchHttpClient.layer, OtlpSerialization.layerJson)))

const endpointConfig = (name: string) =>
  Config.option(Config.string(name)).pipe(
    // An empty variable means unset.
    Config.map(Option.filter((value) => value.trim().length > 0))
  )

/**
 * {@link layer} with the endpoint from `TCP_SERVER_OTLP_ENDPOINT`, else the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (an empty variable counts as unset). Without either, tracing is off: Effect's
 * tracer is disabled, so spans cost next to nothing.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(
    Config.map(
      Config.all([endpointConfig("TCP_SERVER_OTLP_ENDPOINT"), endpointConfig("OTEL_EXPORTER_OTLP_ENDPOINT")]),
      ([own, standard]) => Option.orElse(own, () => standard)
    ),
    Option.match({
      onNone: () => Layer.setTracerEnabled(false),
      onSome: (endpoint) => layer({ endpoint })
    })
  )
)

/**
 * The name of the span of one connection.
 *
 * @since 0.1.0
 * @category constants
 */
export const connectionSpanName = "tcp_server.connection"

/**
 * What a connection span is opened with.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionAttributes {
  readonly id: number
  readonly remoteAddress: string
  readonly remotePort: number
}

/**
 * Runs `effect` (one connection's whole life) in its own root span of kind `server`, with the attributes
 * `connection.id`, `network.peer.address` and `network.peer.port`.
 *
 * @since 0.1.0
 * @category spans
 */
export const withConnectionSpan =
  (attributes: ConnectionAttributes) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withSpan(effect, connectionSpanName, {
      kind: "server",
      root: true,
      // A stack trace per connection would cost more than the span; the span's name says where it comes from.
      captureStackTrace: false,
      attributes: {
        "connection.id": attributes.id,
        "network.peer.address": attributes.remoteAddress,
        "network.peer.port": attributes.remotePort
      }
    })

/**
 * The totals of a connection, recorded on its span when it ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionTotals {
  readonly bytesReceived: number
  readonly bytesSent: number
  readonly framesReceived: number
  readonly repliesSent: number
  /** One of the `reason` values of `tcp_server_connections_closed` (see `Metrics.CloseReason`). */
  readonly closeReason: string
}

/**
 * Records a connection's totals on a span (`tcp_server.bytes_received`, `tcp_server.bytes_sent`,
 * `tcp_server.frames_received`, `tcp_server.replies_sent`, `tcp_server.close_reason`), from synchronous code.
 *
 * @since 0.1.0
 * @category spans
 */
export const unsafeEndConnection = (span: Tracer.Span, totals: ConnectionTotals): void => {
  if (!span.sampled) return
  span.attribute("tcp_server.bytes_received", totals.bytesReceived)
  span.attribute("tcp_server.bytes_sent", totals.bytesSent)
  span.attribute("tcp_server.frames_received", totals.framesReceived)
  span.attribute("tcp_server.replies_sent", totals.repliesSent)
  span.attribute("tcp_server.close_reason", totals.closeReason)
}

/**
 * The most `frame` events recorded on one connection span (as OpenTelemetry's default limit of events per span):
 * a span holds its events until it ends, so a long connection must not add one per frame forever. The frames
 * after are in `tcp_server.frames_received`.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxFrameEvents = 128

/**
 * Adds a `frame` event with the frame's length (`tcp_server.frame_bytes`) to a span, from synchronous code, for
 * the first {@link maxFrameEvents} frames (`frame` counts from 1). The event's time is read from the system clock,
 * as Effect's default `Clock` does (a `TestClock` does not move it). Nothing is done for a span that is not
 * sampled, which is every span while tracing is off.
 *
 * @since 0.1.0
 * @category spans
 */
export const unsafeFrameEvent = (span: Tracer.Span, frame: number, bytes: number): void => {
  if (!span.sampled || frame > maxFrameEvents) return
  span.event("frame", nowNanos(), { "tcp_server.frame_bytes": bytes })
}

// Nanoseconds since the epoch, as Effect's clock gives span times.
const nowNanos = (): bigint =>
  BigInt(Math.round((PerfHooks.performance.timeOrigin + PerfHooks.performance.now()) * 1_000_000))
