/**
 * Ready-made connection handlers.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import {
  type Connection,
  type ConnectionFailure,
  forEachFrame,
  formatPeer,
  type Frame,
  type Handler
} from "./Connection.js"
import * as Encoding from "./Encoding.js"
import { escapeControl } from "./internal/escape.js"
import * as FiberLog from "./internal/fiberLog.js"

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

/**
 * The most of a frame that is logged: its first 4 KiB in hex, its first 64 Ki characters as text; a longer frame
 * is logged with how long it was.
 *
 * @since 0.1.0
 * @category constants
 */
export const displayLimits = { hexBytes: 4096, textCharacters: 65536 } as const

const hex = (bytes: Uint8Array): string => {
  const shown = bytes.length > displayLimits.hexBytes ? bytes.subarray(0, displayLimits.hexBytes) : bytes
  const digits = Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString("hex")
  const pairs = new Array<string>(shown.length)
  for (let i = 0; i < shown.length; i++) pairs[i] = digits.slice(2 * i, 2 * i + 2)
  const joined = pairs.join(" ")
  return bytes.length > displayLimits.hexBytes ? `${joined} … (${bytes.length} bytes)` : joined
}

const text = (frame: Frame): string => {
  const shown = frame.text.length > displayLimits.textCharacters
    ? `${frame.text.slice(0, displayLimits.textCharacters)} … (${frame.bytes.length} bytes)`
    : frame.text
  return escapeControl(shown)
}

/**
 * How a frame is shown in the log: its text with control characters escaped (a client can neither forge a log
 * line nor send escape sequences to a terminal), its bytes in hex, or both; a huge frame is cut to
 * {@link displayLimits}, saying how long it was.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatFrame = (frame: Frame, display: Display): string =>
  display === "text" ? text(frame) : display === "hex" ? hex(frame.bytes) : `${text(frame)} [${hex(frame.bytes)}]`

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
  // What answers a frame, made once per encoding rather than once per connection. A read that completes no
  // character (half of a GBK character, in chunk framing) is neither logged nor answered, as in the tutorial,
  // which would print an empty line.
  const answers = new Map<string, (frame: Frame) => Uint8Array | undefined>()
  const answerIn = (encoding: string) => {
    let f = answers.get(encoding)
    if (f === undefined) {
      const bytes = Encoding.encode(reply, encoding)
      const of = answer === "reply"
        ? () => bytes
        : answer === "echo"
        ? (frame: Frame) => frame.bytes
        : () => undefined
      f = (frame) => complete(frame) ? of(frame) : undefined
      answers.set(encoding, f)
    }
    return f
  }
  // Frames are answered as they arrive (Connection.respond). The connect, message and disconnect lines go through
  // the fiber's loggers from plain code (FiberLog): when Info lines are filtered out (serve --quiet) nothing of
  // them is made at all, not even the client's address as text.
  return (connection) =>
    Effect.withFiberRuntime<void, ConnectionFailure>((fiber) => {
      const respond = answerIn(connection.encoding)
      const log = FiberLog.make(fiber, LogLevel.Info, fields(connection))
      if (log === undefined) return connection.respond(respond)
      const peer = formatPeer(connection)
      log(`客户端连接成功: ${peer}`, connected)
      return connection.respond(respond, {
        log: (frame) => complete(frame) ? `${formatFrame(frame, display)} ${peer}` : undefined,
        annotate: display === "text" ? undefined : hexAnnotation
      }).pipe(Effect.ensuring(Effect.sync(() => log(`客户端下线了: ${peer}`, disconnected))))
    })
}

// The fields of the json and logfmt log formats.
const fields = (connection: Connection): ReadonlyArray<readonly [string, unknown]> => [
  ["connection", connection.id],
  ["remote_address", connection.remoteAddress],
  ["remote_port", connection.remotePort]
]
const connected: ReadonlyArray<readonly [string, unknown]> = [["event", "connected"]]
const disconnected: ReadonlyArray<readonly [string, unknown]> = [["event", "disconnected"]]

// With --display hex or both, the json and logfmt records of a message carry its bytes in hex too.
const hexAnnotation = (frame: Frame): Readonly<Record<string, unknown>> => ({ hex: hex(frame.bytes) })

const complete = (frame: Frame): boolean => frame.text.length > 0 || frame.bytes.length === 0

/**
 * Sends every frame back as it came: in the default chunk framing, every read byte for byte; in the other
 * framings each frame with its delimiter, line ending or length prefix.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo: Handler<ConnectionFailure> = (connection) =>
  forEachFrame(connection, (frame) => connection.sendFrame(frame.bytes))
