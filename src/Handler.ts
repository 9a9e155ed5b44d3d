/**
 * Ready-made connection handlers.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type ConnectionError, formatPeer, type Handler } from "./Connection.js"
import * as Encoding from "./Encoding.js"

/**
 * The tutorial's reply text.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultReply = "ok，问题正在处理中..."

/**
 * The tutorial's behaviour: logs `客户端连接成功: ('IP', PORT)` on connect, `TEXT ('IP', PORT)` for every
 * read and replies `reply` to it, and logs `客户端下线了: ('IP', PORT)` once when the connection ends for any
 * reason. Lines are logged at Info level through Effect's `Logger`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const tutorial = (reply: string = defaultReply): Handler<ConnectionError> => (connection) => {
  const peer = formatPeer(connection)
  const replyBytes = Encoding.encode(reply, connection.encoding)
  return Effect.logInfo(`客户端连接成功: ${peer}`).pipe(
    Effect.zipRight(
      Stream.runForEach(
        connection.input,
        (text) => Effect.zipRight(Effect.logInfo(`${text} ${peer}`), connection.sendBytes(replyBytes))
      )
    ),
    Effect.ensuring(Effect.logInfo(`客户端下线了: ${peer}`))
  )
}

/**
 * Writes every chunk it reads back to the client, byte for byte.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo: Handler<ConnectionError> = (connection) => Stream.runForEach(connection.chunks, connection.sendBytes)
