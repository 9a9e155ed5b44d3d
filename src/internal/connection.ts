import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type * as Net from "node:net"
import { type Connection, ConnectionError, type ConnectionFailure, type Frame } from "../Connection.js"
import * as Encoding from "../Encoding.js"
import * as Framing from "../Framing.js"
import * as Metrics from "../Metrics.js"
import * as ConnectionSpan from "./connectionSpan.js"
import * as FiberLog from "./fiberLog.js"
import * as Frames from "./frames.js"
import * as Reader from "./reader.js"
import type * as Registry from "./registry.js"
import * as Tally from "./tally.js"
import * as WakeUp from "./wakeUp.js"
import * as Writer from "./writer.js"

/**
 * The client's address, captured when the connection was accepted.
 *
 * @internal
 */
export interface Peer {
  readonly remoteAddress: string
  readonly remotePort: number
}

/** @internal */
export const formatPeer = (peer: Peer): string => `${peer.remoteAddress}:${peer.remotePort}`

/**
 * The log annotations of a line about a connection (the json and logfmt formats show them as fields). Added to
 * each line rather than to the connection's fiber: annotating the fiber would copy its `FiberRefs` for as long
 * as the connection lives (about 3 KB per held connection).
 *
 * @internal
 */
export const annotations = (id: number, peer: Peer, event: string): Record<string, unknown> => ({
  event,
  connection: id,
  remote_address: peer.remoteAddress,
  remote_port: peer.remotePort
})

/**
 * The settings every connection of a server shares.
 *
 * @internal
 */
export interface Settings extends Frames.Settings {
  /** Line ending of replies in line framing; undefined: the one the client used last. */
  readonly replyEnding: Uint8Array | undefined
  /** No input for this long fails the read with an `IdleTimeout`; undefined: no limit. */
  readonly idleTimeout: Duration.Duration | undefined
  /** A full output buffer not read for this long fails the write; undefined: no limit. */
  readonly writeTimeout: Duration.Duration | undefined
  /** The longest a graceful close may take before the socket is destroyed. */
  readonly closeTimeoutMillis: number
  /** Sent, framed, just before the connection is closed by a server shutdown. */
  readonly goodbye: Uint8Array | undefined
}

/** @internal */
export type { Connection }

/** @internal */
export interface Options {
  readonly socket: Net.Socket
  readonly id: number
  readonly peer: Peer
  readonly settings: Settings
  readonly registry: Registry.Registry
  readonly scope: Scope.Scope
  /** The connection's span, when tracing is on. */
  readonly span: Tracer.Span | undefined
}

const errorCode = (cause: unknown): unknown => cause instanceof Error && "code" in cause ? cause.code : undefined

/**
 * Why a connection closed, as the `reason` of `tcp_server_connections_closed`.
 *
 * @internal
 */
export const closeReason = (
  exit: Exit.Exit<unknown, unknown>,
  draining: boolean
): Metrics.CloseReason => {
  if (Exit.isSuccess(exit)) return draining ? "shutdown" : "eof"
  if (Cause.isInterruptedOnly(exit.cause)) return "shutdown"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None" || !(failure.value instanceof ConnectionError)) return "error"
  switch (failure.value.reason) {
    case "IdleTimeout":
      return "idle"
    case "WriteTimeout":
      return "write_timeout"
    case "MaxAge":
      return "max_age"
    case "Read":
    case "Write":
      return errorCode(failure.value.cause) === "ECONNRESET" ? "reset" : "error"
  }
}

const lf = new Uint8Array([0x0a])

/** A second reader of one connection: a bug in the handler. */
const secondReader = (label: string, first: string, second: string) =>
  Effect.die(
    new Error(
      `${label}: ${second} was used while the connection is read by ${first}; a connection has a single reader ` +
        `(receive and the readers built on it, or respond)`
    )
  )

/**
 * Wraps an accepted socket as a {@link Connection}; the socket is closed when `scope` closes (see
 * {@link Writer.close}). Run it uninterruptibly, so the socket is in the scope as soon as the connection exists.
 *
 * @internal
 */
export const make = ({ id, peer, registry, scope, settings, socket, span }: Options): Effect.Effect<Connection> =>
  Effect.clockWith((clock) => {
    const tally = Tally.make(span)
    Metrics.unsafeAccepted()
    const reader = Reader.make(socket, registry, clock, settings.idleTimeout, tally)
    const write = Writer.make(socket, settings.writeTimeout, tally)
    const { encoding, framing } = settings
    const label = `connection ${id} from ${formatPeer(peer)}`

    let ending = settings.replyEnding ?? lf
    const take = Frames.make(reader, settings, label, (received) => {
      if (settings.replyEnding === undefined) ending = received
    }, tally)
    const frameBytes = (bytes: Uint8Array) => Framing.encodeFrame(framing, bytes, ending)
    // Framed when run, not when called: the line ending is the one the client used last at that moment.
    const sendNow = (
      bytes: Uint8Array
    ): Effect.Effect<void, ConnectionError | Framing.FrameTooLongError> | undefined => {
      Tally.reply(tally)
      return framing._tag === "Chunk"
        ? write(bytes)
        : Either.match(frameBytes(bytes), { onLeft: Effect.fail, onRight: write })
    }

    // Which of the two modes reads this connection, once one has started.
    let reading: "receive" | "respond" | undefined

    const wait = reader.wakeUp.wait
    const step: Connection["receive"] = Effect.suspend(() => {
      const taken = take()
      switch (taken._tag) {
        case "Frame":
          return Effect.succeed(Option.some<Frame>(taken))
        case "Wait":
          return reader.wakeUp.waiting() ? secondReader(label, "receive", "receive") : Effect.zipRight(wait, step)
        case "Yield":
          return Effect.zipRight(WakeUp.nextTurn, step)
        case "End":
          return Effect.succeedNone
        case "Warn":
          return Effect.zipRight(Effect.logWarning(taken.message), step)
        case "Fail":
          return Effect.fail(taken.error)
      }
    })
    const receive: Connection["receive"] = Effect.suspend(() => {
      if (reading === "respond") return secondReader(label, "respond", "receive")
      reading = "receive"
      return step
    })

    const respond: Connection["respond"] = (f, options) =>
      Effect.withFiberRuntime((fiber) => {
        if (reading !== undefined) return secondReader(label, reading, "respond")
        reading = "respond"
        const format = options?.log
        const logLine = format === undefined ? undefined : FiberLog.make(fiber, LogLevel.Info, [
          ["event", "message"],
          ["connection", id],
          ["remote_address", peer.remoteAddress],
          ["remote_port", peer.remotePort]
        ])
        // Runs inside the socket's events, outside the fiber: anything thrown here (by `f`, `log`, or a bug of
        // ours) must become the fiber's defect rather than escape into the event emitter.
        const check = (): Effect.Effect<void, ConnectionFailure> | undefined => {
          try {
            for (;;) {
              const taken = take()
              switch (taken._tag) {
                case "Wait":
                  return undefined
                case "Yield":
                  // Taken up again in a later turn, after the other connections' I/O.
                  setImmediate(reader.wakeUp.notify)
                  return undefined
                case "End":
                  return Effect.void
                case "Warn":
                  return Effect.zipRight(Effect.logWarning(taken.message), loop)
                case "Fail":
                  return Effect.fail(taken.error)
                case "Frame": {
                  if (logLine !== undefined && format !== undefined) {
                    const line = format(taken)
                    if (line !== undefined) {
                      logLine(line, [["text", taken.text], ["bytes", taken.bytes.length]])
                    }
                  }
                  const reply = f(taken)
                  if (reply === undefined) continue
                  const pending = sendNow(typeof reply === "string" ? Encoding.encode(reply, encoding) : reply)
                  if (pending !== undefined) return Effect.zipRight(pending, loop)
                }
              }
            }
          } catch (defect) {
            return Effect.die(defect)
          }
        }
        const loop = reader.wakeUp.waitUntil(check)
        return loop
      })

    const connection: Connection = {
      id,
      remoteAddress: peer.remoteAddress,
      remotePort: peer.remotePort,
      encoding,
      receive,
      respond,
      send: (text) => Effect.suspend(() => sendNow(Encoding.encode(text, encoding)) ?? Effect.void),
      sendFrame: (bytes) => Effect.suspend(() => sendNow(bytes) ?? Effect.void),
      sendBytes: (bytes) => Effect.suspend(() => write(bytes) ?? Effect.void)
    }
    // Scope.addFinalizerExit rather than Effect.acquireRelease: the latter also records and restores the
    // fiber's FiberRefs around the finalizer, which costs about 20 µs per connection and buys nothing here.
    return Effect.as(
      Scope.addFinalizerExit(scope, (exit) => {
        reader.discard()
        const reason = closeReason(exit, registry.draining)
        Metrics.unsafeClosed(reason)
        if (span !== undefined) {
          ConnectionSpan.unsafeEndConnection(span, {
            bytesReceived: tally.bytesIn,
            bytesSent: tally.bytesOut,
            framesReceived: tally.frames,
            repliesSent: tally.replies,
            closeReason: reason
          })
        }
        const goodbye = registry.draining && settings.goodbye !== undefined
          ? Either.getOrUndefined(frameBytes(settings.goodbye))
          : undefined
        return Writer.close(socket, registry, exit, goodbye, settings.closeTimeoutMillis)
      }),
      connection
    )
  })
