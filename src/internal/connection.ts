import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
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
  readonly clock: Clock.Clock
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

type Respond = Connection["respond"]
type Send = Connection["send"]
type SendFrame = Connection["sendFrame"]

/**
 * A connection: its reader, writer and frames, and the {@link Connection} interface over them.
 *
 * One object per connection, with what a connection needs for as long as it is open held in plain fields. The
 * interface's members are own properties (functions that close over the connection), so that a handler may take
 * them off the object (`const { send } = connection`) or spread it into a wrapper (`{ ...connection, send }`).
 *
 * @internal
 */
export class ConnectionImpl implements Connection, Frames.Labeled {
  readonly remoteAddress: string
  readonly remotePort: number
  readonly encoding: string
  /** Which of the two modes reads this connection, once one has started. */
  private reading: "receive" | "respond" | undefined = undefined
  private readonly tally: Tally.Tally
  private readonly reader: Reader.Reader
  private readonly writer: Writer.Writer
  private readonly frames: Frames.Frames
  private stepEffect: Connection["receive"] | undefined = undefined

  constructor(
    readonly id: number,
    private readonly peer: Peer,
    private readonly socket: Net.Socket,
    private readonly settings: Settings,
    private readonly registry: Registry.Registry,
    clock: Clock.Clock,
    private readonly span: Tracer.Span | undefined
  ) {
    this.remoteAddress = peer.remoteAddress
    this.remotePort = peer.remotePort
    this.encoding = settings.encoding
    this.tally = Tally.make(span)
    this.reader = Reader.make(socket, registry, clock, settings.idleTimeout, this.tally)
    this.writer = Writer.make(socket, settings.writeTimeout, this.tally)
    this.frames = Frames.make(this.reader, settings, this, this.tally)
  }

  /** How log lines and errors name the connection. */
  get label(): string {
    return `connection ${this.id} from ${formatPeer(this.peer)}`
  }

  /** Frames a reply: with the configured line ending, or the one the client used last at this moment. */
  private frameBytes(bytes: Uint8Array): Either.Either<Uint8Array, Framing.FrameTooLongError> {
    return Framing.encodeFrame(this.settings.framing, bytes, this.settings.replyEnding ?? this.frames.lastEnding ?? lf)
  }

  /** Frames and writes a reply now: undefined when it is written, or the effect to wait on. */
  private sendNow(bytes: Uint8Array): Effect.Effect<void, ConnectionError | Framing.FrameTooLongError> | undefined {
    Tally.reply(this.tally)
    if (this.settings.framing._tag === "Chunk") return this.writer.write(bytes)
    const framed = this.frameBytes(bytes)
    return Either.isLeft(framed) ? Effect.fail(framed.left) : this.writer.write(framed.right)
  }

  readonly receive: Connection["receive"] = Effect.suspend(() => {
    if (this.reading === "respond") return secondReader(this.label, "respond", "receive")
    this.reading = "receive"
    return this.step
  })

  /** One frame for `receive`, waiting for input as needed. */
  private get step(): Connection["receive"] {
    return this.stepEffect ??= Effect.suspend(() => this.takeOne())
  }

  private takeOne(): Connection["receive"] {
    const taken = this.frames.take()
    switch (taken._tag) {
      case "Frame":
        return Effect.succeed(Option.some<Frame>(taken))
      case "Wait":
        return this.reader.waiting()
          ? secondReader(this.label, "receive", "receive")
          : Effect.zipRight(this.reader.wait, this.step)
      case "Yield":
        return Effect.zipRight(WakeUp.nextTurn, this.step)
      case "End":
        return Effect.succeedNone
      case "Warn":
        return Effect.zipRight(Effect.logWarning(taken.message), this.step)
      case "Fail":
        return Effect.fail(taken.error)
    }
  }

  readonly respond: Respond = (f, options) =>
    Effect.withFiberRuntime((fiber, status) => {
      if (this.reading !== undefined) return secondReader(this.label, this.reading, "respond")
      this.reading = "respond"
      return this.answer(f, options, fiber, RuntimeFlags.interruptible(status.runtimeFlags))
    })

  /**
   * `respond`: frames are answered inside the socket's events, outside the fiber, which wakes only for what
   * needs an effect (a warning, a failure, a full output buffer, the end).
   */
  private answer(
    f: Parameters<Respond>[0],
    options: Parameters<Respond>[1],
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    interruptible: boolean
  ): Effect.Effect<void, ConnectionFailure> {
    const format = options?.log
    const annotate = options?.annotate
    const logLine = format === undefined ? undefined : FiberLog.make(fiber, LogLevel.Info, [
      ["event", "message"],
      ["connection", this.id],
      ["remote_address", this.remoteAddress],
      ["remote_port", this.remotePort]
    ])
    const frames = this.frames
    const encoding = this.encoding
    // Runs inside the socket's events, outside the fiber: anything thrown here (by `f`, `format`, or a bug of
    // ours) must become the fiber's defect rather than escape into the event emitter.
    const check = (): Effect.Effect<void, ConnectionFailure> | undefined => {
      try {
        for (;;) {
          const taken = frames.take()
          switch (taken._tag) {
            case "Wait":
              return undefined
            case "Yield":
              // Taken up again in a later turn, after the other connections' I/O.
              setImmediate(this.reader.notify)
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
                  const extra: Array<FiberLog.Annotation> = [["text", taken.text], ["bytes", taken.bytes.length]]
                  if (annotate !== undefined) {
                    for (const [key, value] of Object.entries(annotate(taken))) extra.push([key, value])
                  }
                  logLine(line, extra)
                }
              }
              const reply = f(taken)
              if (reply === undefined) continue
              const pending = this.sendNow(typeof reply === "string" ? Encoding.encode(reply, encoding) : reply)
              if (pending !== undefined) return Effect.zipRight(pending, loop)
            }
          }
        }
      } catch (defect) {
        return Effect.die(defect)
      }
    }
    const loop: Effect.Effect<void, ConnectionFailure> = this.reader.watchUntil(fiber, interruptible, check)
    return loop
  }

  readonly send: Send = (text) =>
    Effect.suspend(() => this.sendNow(Encoding.encode(text, this.encoding)) ?? Effect.void)

  readonly sendFrame: SendFrame = (bytes) => Effect.suspend(() => this.sendNow(bytes) ?? Effect.void)

  readonly sendBytes: Connection["sendBytes"] = (bytes) => Effect.suspend(() => this.writer.write(bytes) ?? Effect.void)

  /**
   * Closes the connection as its scope closes: the reader stops, the close is counted and reported, then the
   * socket is closed (see {@link Writer.close}).
   */
  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    this.reader.discard()
    const registry = this.registry
    const reason = closeReason(exit, registry.draining)
    Metrics.unsafeClosed(reason)
    const tally = this.tally
    if (this.span !== undefined) {
      ConnectionSpan.unsafeEndConnection(this.span, {
        bytesReceived: tally.bytesIn,
        bytesSent: tally.bytesOut,
        framesReceived: tally.frames,
        repliesSent: tally.replies,
        closeReason: reason
      })
    }
    const goodbye = registry.draining && this.settings.goodbye !== undefined
      ? Either.getOrUndefined(this.frameBytes(this.settings.goodbye))
      : undefined
    return Writer.close(this.socket, registry, exit, goodbye, this.settings.closeTimeoutMillis)
  }
}

/**
 * Wraps an accepted socket as a {@link Connection}; the socket is closed when `scope` closes (see
 * {@link ConnectionImpl.close}). Run it uninterruptibly, so the socket is in the scope as soon as the connection
 * exists.
 *
 * @internal
 */
export const make = (
  { clock, id, peer, registry, settings, socket, span }: Options,
  scope: Scope.Scope
): Effect.Effect<ConnectionImpl> => {
  Metrics.unsafeAccepted()
  const connection = new ConnectionImpl(id, peer, socket, settings, registry, clock, span)
  // Scope.addFinalizerExit rather than Effect.acquireRelease: the latter also records and restores the
  // fiber's FiberRefs around the finalizer, which costs about 20 µs per connection and buys nothing here.
  return Effect.as(Scope.addFinalizerExit(scope, (exit) => connection.close(exit)), connection)
}
