/**
 * One connected client, as a handler sees it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type * as Framing from "./Framing.js"

/**
 * Reading from or writing to a client socket failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly reason: "Read" | "Write" | "IdleTimeout" | "WriteTimeout" | "MaxAge"
  readonly cause: unknown
}> {
  override get message(): string {
    const duration = Duration.isDuration(this.cause) ? Duration.format(this.cause) : String(this.cause)
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
 * A connected client. The socket behind it is destroyed when the handler's scope closes: when the handler
 * returns, fails or is interrupted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** Sequence number of the connection, from 1, unique within a server. */
  readonly id: number
  readonly remoteAddress: string
  readonly remotePort: number
  /** The encoding used by `input` and `send`. */
  readonly encoding: string
  /**
   * The raw bytes, in order, as they are read. The socket is read only when the stream is pulled, so a slow
   * consumer makes a fast client wait instead of making the server buffer. Consume either `chunks` or `input`.
   */
  readonly chunks: Stream.Stream<Uint8Array, ConnectionError>
  /**
   * The input as frames. In `chunk` framing a frame is what one read returned, decoded with one streaming
   * decoder (a character split across reads is decoded once complete; a read that completes no character
   * emits nothing). In the other framings each frame is decoded on its own. Frames too long, or undecodable
   * with fatal decoding, are logged and counted, then skipped or fail the stream, as the framing's policy says.
   */
  readonly frames: Stream.Stream<Frame, ConnectionError | FrameError>
  /**
   * Pulls the next frame, `None` at the end of input: the same frames as `frames`, without a stream around
   * them (cheaper per frame). Use one of `frames`, `receive`, `input` or `chunks`.
   */
  readonly receive: Effect.Effect<Option.Option<Frame>, ConnectionError | FrameError>
  /**
   * Runs `f` for each frame, in order, until the end of input; fails with the first failure of `f` or of the
   * input. What `Stream.runForEach(frames, f)` does, without a stream around it: the cheapest way to handle
   * every message. Use one of `frames`, `receive`, `forEachFrame`, `input` or `chunks`.
   */
  readonly forEachFrame: <E, R>(
    f: (frame: Frame) => Effect.Effect<void, E, R>
  ) => Effect.Effect<void, E | ConnectionError | FrameError, R>
  /**
   * Answers each frame with what `f` returns (bytes, or text in the connection's encoding; `undefined` for no
   * answer), framed as `sendFrame` does, until the end of input. `f` runs synchronously as frames arrive, so
   * the connection's fiber is not woken for every message: the cheapest way to serve a request/response
   * protocol whose answer is a plain function of the frame. With `log`, the line it makes of each frame is
   * logged at Info level through the fiber's loggers before the answer (and not even made when Info is
   * filtered out). Backpressure, frame errors and failures work as in `forEachFrame`; an exception thrown by
   * `f` or `log` is a defect. Use one of `frames`, `receive`, `forEachFrame`, `respond`, `input` or `chunks`.
   */
  readonly respond: (
    f: (frame: Frame) => Uint8Array | string | undefined,
    options?: { readonly log?: ((frame: Frame) => string) | undefined }
  ) => Effect.Effect<void, ConnectionFailure>
  /** The text of `frames`. */
  readonly input: Stream.Stream<string, ConnectionError | FrameError>
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
 * What the server runs for every connection. A failure is logged with the connection's address; it never
 * affects other connections.
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
