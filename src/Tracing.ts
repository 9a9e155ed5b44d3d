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
import * as ConnectionSpan from "./internal/connectionSpan.js"

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
 * @since 0.1.0
 * @category spans
 */
export const connectionSpanName = ConnectionSpan.connectionSpanName

/**
 * @since 0.1.0
 * @category models
 */
export type ConnectionAttributes = ConnectionSpan.ConnectionAttributes

/**
 * @since 0.1.0
 * @category spans
 */
export const withConnectionSpan = ConnectionSpan.withConnectionSpan

/**
 * @since 0.1.0
 * @category models
 */
export type ConnectionTotals = ConnectionSpan.ConnectionTotals

/**
 * @since 0.1.0
 * @category spans
 */
export const unsafeEndConnection = ConnectionSpan.unsafeEndConnection

/**
 * @since 0.1.0
 * @category constants
 */
export const maxFrameEvents = ConnectionSpan.maxFrameEvents

/**
 * @since 0.1.0
 * @category spans
 */
export const unsafeFrameEvent = ConnectionSpan.unsafeFrameEvent
