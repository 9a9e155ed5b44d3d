import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import * as PerfHooks from "node:perf_hooks"

/**
 * The name of the span of one connection.
 *
 * @internal
 */
export const connectionSpanName = "tcp_server.connection"

/**
 * What a connection span is opened with.
 *
 * @internal
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
 * @internal
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
 * @internal
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
 * @internal
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
 * @internal
 */
export const maxFrameEvents = 128

/**
 * Adds a `frame` event with the frame's length (`tcp_server.frame_bytes`) to a span, from synchronous code, for
 * the first {@link maxFrameEvents} frames (`frame` counts from 1). The event's time is read from the system clock,
 * as Effect's default `Clock` does (a `TestClock` does not move it). Nothing is done for a span that is not
 * sampled, which is every span while tracing is off.
 *
 * @internal
 */
export const unsafeFrameEvent = (span: Tracer.Span, frame: number, bytes: number): void => {
  if (!span.sampled || frame > maxFrameEvents) return
  span.event("frame", nowNanos(), { "tcp_server.frame_bytes": bytes })
}

// Nanoseconds since the epoch, as Effect's clock gives span times.
const nowNanos = (): bigint =>
  BigInt(Math.round((PerfHooks.performance.timeOrigin + PerfHooks.performance.now()) * 1_000_000))
