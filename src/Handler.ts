/**
 * Ready-made connection handlers.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type ConnectionFailure, formatPeer, type Frame, type Handler } from "./Connection.js"
import * as Encoding from "./Encoding.js"

/**
 * The tutorial's reply text.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultReply = "ok，问题正在处理中..."

/**
 * What the tutorial handler logs of each frame: its text, its bytes in hex, or both.
 *
 * @since 0.1.0
 * @category models
 */
export type Display = "text" | "hex" | "both"

/**
 * What the tutorial handler answers: the reply text, the frame itself, or nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type Answer = "reply" | "echo" | "none"

/**
 * Options of {@link tutorial}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TutorialOptions {
  /** Default `ok，问题正在处理中...`. */
  readonly reply?: string | undefined
  /** Default `reply`. */
  readonly answer?: Answer | undefined
  /** Default `text`. */
  readonly display?: Display | undefined
}

const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").replace(/(..)(?!$)/g, "$1 ")

/**
 * How a frame is shown in the log.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatFrame = (frame: Frame, display: Display): string =>
  display === "text" ? frame.text : display === "hex" ? hex(frame.bytes) : `${frame.text} [${hex(frame.bytes)}]`

/**
 * The tutorial's behaviour: logs `客户端连接成功: ('IP', PORT)` on connect, `TEXT ('IP', PORT)` for every
 * frame (every read, in the default chunk framing) and answers it, and logs `客户端下线了: ('IP', PORT)` once
 * when the connection ends for any reason. Lines are logged at Info level through Effect's `Logger`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const tutorial = (options: TutorialOptions | string = {}): Handler<ConnectionFailure> => {
  const { answer = "reply", display = "text", reply = defaultReply } = typeof options === "string"
    ? { reply: options }
    : options
  // The reply encoded once per encoding, not once per connection.
  const encoded = new Map<string, Uint8Array>()
  const replyIn = (encoding: string) => {
    let bytes = encoded.get(encoding)
    if (bytes === undefined) {
      bytes = Encoding.encode(reply, encoding)
      encoded.set(encoding, bytes)
    }
    return bytes
  }
  const answerOf = (bytes: Uint8Array): (frame: Frame) => Uint8Array | undefined =>
    answer === "reply" ? () => bytes : answer === "echo" ? (frame) => frame.bytes : () => undefined
  return (connection) => {
    const peer = formatPeer(connection)
    // Frames are answered as they arrive (Connection.respond); their lines are not even formatted when Info
    // lines are filtered out (serve --quiet).
    return Effect.logInfo(`客户端连接成功: ${peer}`).pipe(
      Effect.zipRight(connection.respond(answerOf(replyIn(connection.encoding)), {
        log: (frame) => `${formatFrame(frame, display)} ${peer}`
      })),
      Effect.ensuring(Effect.logInfo(`客户端下线了: ${peer}`))
    )
  }
}

/**
 * Writes every chunk it reads back to the client, byte for byte, whatever the framing.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo: Handler<ConnectionFailure> = (connection) =>
  Stream.runForEach(connection.chunks, connection.sendBytes)
