import type * as Tracer from "effect/Tracer"
import * as Metrics from "../Metrics.js"
import * as ConnectionSpan from "./connectionSpan.js"

/**
 * What one connection has done, for its span when it ends; updated with the server's metrics by the functions
 * below, from the socket's events. Plain fields: one of these exists per open connection.
 *
 * @internal
 */
export interface Tally {
  bytesIn: number
  bytesOut: number
  frames: number
  replies: number
  /** When the last frame was taken (`performance.now()`), until its reply is written. */
  frameAt: number | undefined
  /** The connection's span, when tracing is on. */
  readonly span: Tracer.Span | undefined
}

/** @internal */
export const make = (span: Tracer.Span | undefined): Tally => ({
  bytesIn: 0,
  bytesOut: 0,
  frames: 0,
  replies: 0,
  frameAt: undefined,
  span
})

/** @internal */
export const received = (tally: Tally, bytes: number): void => {
  tally.bytesIn += bytes
  Metrics.unsafeIncrement(Metrics.receivedBytes, bytes)
}

/** @internal */
export const sent = (tally: Tally, bytes: number): void => {
  tally.bytesOut += bytes
  Metrics.unsafeIncrement(Metrics.sentBytes, bytes)
}

/** @internal */
export const frame = (tally: Tally, bytes: number): void => {
  tally.frames++
  tally.frameAt = performance.now()
  Metrics.unsafeIncrement(Metrics.framesReceived)
  if (tally.span !== undefined) ConnectionSpan.unsafeFrameEvent(tally.span, tally.frames, bytes)
}

/** A reply handed to the socket: the time since its frame was taken is observed once. @internal */
export const reply = (tally: Tally): void => {
  tally.replies++
  Metrics.unsafeIncrement(Metrics.repliesSent)
  if (tally.frameAt !== undefined) {
    Metrics.unsafeReplySeconds((performance.now() - tally.frameAt) / 1000)
    tally.frameAt = undefined
  }
}
