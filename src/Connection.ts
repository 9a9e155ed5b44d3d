/**
 * One connected client, as a handler sees it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Framing from "./Framing.js"

/**
 * Reading from or writing to a client socket failed, or a limit closed the connection. Timeouts carry the
 * limit that was reached in `timeout`; read and write failures carry the socket's error in `cause`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly reason: "Read" | "Write" | "IdleTimeout" | "WriteTimeout" | "MaxAge"
  readonly cause?: unknown
  readonly timeout?: Duration.Duration | undefined
}> {
  override get message(): string {
    const duration = this.timeout === undefined ? "the limit" : Duration.format(this.timeout)
    switch (this.reason) {
      case "IdleTimeout":
        return `no input for ${duration}: closed by the idle timeout`
      case "WriteTimeout":
        return `the client read none of the server's pending output for ${duration}: closed by the write timeout`
      case "MaxAge":
        return `connected for ${duration}: closed by the maximum connection age`
      case "Read":
      case "Write": {
        const action = this.reason === "Read" ? "reading from" : "writing to"
        const code = errorCode(this.cause)
        if (code === "ECONNRESET") return `connection reset by peer while ${action} the client (ECONNRESET)`
        if (code === "EPIPE") return `the client closed the connection while the server was ${action} it (EPIPE)`
        const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
        return `${action} the client failed: ${detail}`
      }
    }
  }
}

/**
 * A received frame could not be used: longer than the maximum frame size, or (with fatal decoding) not valid
 * in the connection's encoding.
 *
 * @since 0.1.0
 * @category errors
 */
export class FrameError extends Data.TaggedError("FrameError")<{
  readonly reason: "TooLong" | "Undecodable"
  /** Bytes of the frame (at least this many when `complete` is false). */
  readonly length: number
  readonly maxFrameBytes: number
  readonly complete: boolean
  readonly encoding: string
}> {
  override get message(): string {
    return this.reason === "TooLong"
      ? `a frame of ${
        this.complete ? "" : "at least "
      }${this.length} bytes is longer than the maximum of ${this.maxFrameBytes} bytes`
      : `a frame of ${this.length} bytes is not valid ${this.encoding}`
  }
}

const errorCode = (cause: unknown): string | undefined =>
  cause instanceof Error && "code" in cause && typeof cause.code === "string" ? cause.code : undefined

/**
 * One message as the connection's framing delimits it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Frame {
  /** The frame's bytes, without delimiter or length prefix. */
  readonly bytes: Uint8Array
  /** The bytes decoded in the connection's encoding (invalid bytes as U+FFFD). */
  readonly text: string
  /** What ended the frame: `"\n"` or `"\r\n"` in line mode, the delimiter in delimiter mode, else empty. */
  readonly ending: Uint8Array
}

/**
 * A connected client. It has one way to read, `receive`, and the readers below derive from it
 * ({@link frames}, {@link input}, {@link forEachFrame}); `respond` is a second, synchronous mode for
 * request/response protocols. A connection has a single reader: using `respond` after `receive` (or the
 * other way round), or two reads at once, is a defect that names the connection. The socket behind it is
 * closed when the handler ends, fails or is interrupted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** Sequence number of the connection, from 1, unique within a server. */
  readonly id: number
  readonly remoteAddress: string
  readonly remotePort: number
  /** The encoding of `Frame.text` and `send`. */
  readonly encoding: string
  /**
   * The next frame, `None` at the end of input (or when a shutdown starts). In `chunk` framing a frame is
   * what one read returned (its raw `bytes`, and its `text` decoded with one streaming decoder: a character
   * split across reads is decoded once complete); in the other framings each frame is decoded on its own.
   * Frames too long, or undecodable with fatal decoding, are logged and counted, then skipped or fail, as the
   * framing's policy says. The socket is read only as frames are taken: a slow handler makes a fast client
   * wait in TCP flow control.
   */
  readonly receive: Effect.Effect<Option.Option<Frame>, ConnectionError | FrameError>
  /**
   * Answers each frame with what `f` returns (bytes, or text in the connection's encoding; `undefined` for no
   * answer), framed as `sendFrame` does, until the end of input. Contract: `f` (and `log`) run synchronously
   * inside the socket's event, and the connection's fiber is not woken per frame — the cheapest way to serve
   * a protocol whose answer is a plain function of the frame. With `log`, the line it makes of a frame (none
   * for `undefined`) is logged at Info level through the fiber's loggers before the answer, and not even made
   * when Info is filtered out. The line's annotations are `event` (`message`), `connection`, `remote_address`,
   * `remote_port`, `text` and `bytes`, plus those `annotate` returns for the frame. Backpressure, frame errors
   * and failures work as with `receive`; an exception thrown by `f`, `log` or `annotate` is a defect.
   */
  readonly respond: (
    f: (frame: Frame) => Uint8Array | string | undefined,
    options?: {
      readonly log?: ((frame: Frame) => string | undefined) | undefined
      readonly annotate?: ((frame: Frame) => Readonly<Record<string, unknown>>) | undefined
    }
  ) => Effect.Effect<void, ConnectionFailure>
  /**
   * Encodes `text` in the connection's encoding, frames it (in line mode with the line ending the client
   * used last, or the configured one) and writes it. Completes at once while the connection's
   * outgoing buffer holds less than its high-water mark (64 KiB by default); otherwise waits until the client
   * has read enough, and fails with a `WriteTimeout` if it reads nothing for the write timeout.
   */
  readonly send: (text: string) => Effect.Effect<void, ConnectionError | Framing.FrameTooLongError>
  /** Frames raw bytes (delimiter, line ending or length prefix) and writes them, buffered as `send`. */
  readonly sendFrame: (bytes: Uint8Array) => Effect.Effect<void, ConnectionError | Framing.FrameTooLongError>
  /** Writes raw bytes as they are, without framing, buffered as `send`. */
  readonly sendBytes: (bytes: Uint8Array) => Effect.Effect<void, ConnectionError>
}

/**
 * The frames of a connection as a stream, built on `receive`.
 *
 * @since 0.1.0
 * @category readers
 */
export const frames = (connection: Connection): Stream.Stream<Frame, ConnectionError | FrameError> =>
  Stream.repeatEffectOption(
    Effect.flatMap(
      Effect.mapError(connection.receive, Option.some),
      (frame) => Option.isSome(frame) ? Effect.succeed(frame.value) : Effect.fail(Option.none())
    )
  )

/**
 * The text of each frame, as a stream.
 *
 * @since 0.1.0
 * @category readers
 */
export const input = (connection: Connection): Stream.Stream<string, ConnectionError | FrameError> =>
  Stream.map(frames(connection), (frame) => frame.text)

/**
 * Runs `f` for each frame, in order, until the end of input; fails with the first failure of `f` or of the
 * input. What `Stream.runForEach(frames(connection), f)` does, without a stream around it.
 *
 * @since 0.1.0
 * @category readers
 */
export const forEachFrame: {
  <E, R>(
    f: (frame: Frame) => Effect.Effect<void, E, R>
  ): (connection: Connection) => Effect.Effect<void, E | ConnectionError | FrameError, R>
  <E, R>(
    connection: Connection,
    f: (frame: Frame) => Effect.Effect<void, E, R>
  ): Effect.Effect<void, E | ConnectionError | FrameError, R>
} = dual(2, <E, R>(
  connection: Connection,
  f: (frame: Frame) => Effect.Effect<void, E, R>
): Effect.Effect<void, E | ConnectionError | FrameError, R> => {
  const loop: Effect.Effect<void, E | ConnectionError | FrameError, R> = Effect.flatMap(
    connection.receive,
    (frame) => Option.isSome(frame) ? Effect.flatMap(f(frame.value), () => loop) : Effect.void
  )
  return loop
})

/**
 * What the server runs for every connection. A failure is logged with the connection's address; it never
 * affects other connections. A handler may use `Scope` (`Effect.addFinalizer`, `Effect.acquireRelease`): the
 * server provides the connection's own scope, closed when the client leaves.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<E = ConnectionFailure, R = never> = (connection: Connection) => Effect.Effect<void, E, R>

/**
 * Everything the operations of a {@link Connection} can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectionFailure = ConnectionError | FrameError | Framing.FrameTooLongError

/**
 * `('IP', PORT)`: the client's address as the Python tutorial prints it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatPeer = (connection: Pick<Connection, "remoteAddress" | "remotePort">): string =>
  `('${connection.remoteAddress}', ${connection.remotePort})`
