import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { type Connection, ConnectionError, type Frame, FrameError } from "../Connection.js"
import * as Encoding from "../Encoding.js"
import * as Framing from "../Framing.js"

/** @internal */
export interface ReaderHandle {
  /** Wakes the reader so it looks at its socket and the server's state again. */
  readonly notify: () => void
  /** When the reader started waiting for input, on the clock's time; undefined while it is not waiting. */
  readonly waitingSince: () => number | undefined
  /** Makes the reader fail with an idle timeout. */
  readonly expire: () => void
}

/**
 * Server-wide state shared by every connection: the readers (for the idle sweeper and for draining), whether
 * the server is draining (readers then report the end of input), and the connections flushing their output
 * before they close (a forced shutdown destroys them).
 *
 * @internal
 */
export interface Shutdown {
  draining: boolean
  readonly readers: Set<ReaderHandle>
  readonly flushing: Set<() => void>
}

/** @internal */
export const makeShutdown = (): Shutdown => ({ draining: false, readers: new Set(), flushing: new Set() })

/** @internal */
export const startDraining = (shutdown: Shutdown): void => {
  shutdown.draining = true
  for (const reader of [...shutdown.readers]) reader.notify()
}

/** Ends the flushing of every connection at once: their sockets are destroyed. @internal */
export const forceClose = (shutdown: Shutdown): void => {
  for (const done of [...shutdown.flushing]) done()
}

/**
 * Closes the connections whose reader has waited for input for `idleMillis` or more: one fiber for the whole
 * server, waking every `tickMillis`, rather than a timer per read.
 *
 * @internal
 */
export const idleSweeper = (shutdown: Shutdown, idleMillis: number): Effect.Effect<never> =>
  Effect.clockWith((clock) => {
    const tick = Duration.millis(Math.min(1000, Math.max(10, Math.floor(idleMillis / 10))))
    return Effect.sync(() => {
      const now = clock.unsafeCurrentTimeMillis()
      for (const reader of shutdown.readers) {
        const since = reader.waitingSince()
        if (since !== undefined && now - since >= idleMillis) reader.expire()
      }
    }).pipe(Effect.zipRight(Effect.sleep(tick)), Effect.forever)
  })

/** @internal */
export interface Counters {
  /** Frames over the maximum size. */
  oversized: number
  /** Frames (or reads, in chunk framing) with bytes invalid in the encoding. */
  decodeErrors: number
}

/** @internal */
export interface Settings {
  readonly encoding: string
  readonly framing: Framing.Framing
  /** What an oversized or (fatal) undecodable frame does to the connection. */
  readonly frameErrors: Framing.OversizedPolicy
  /** `fatal`: a frame with invalid bytes is a frame error; `replace`: they become U+FFFD. */
  readonly decodeErrors: "replace" | "fatal"
  /** Line ending of replies in line framing; undefined: the one the client used last. */
  readonly replyEnding: Uint8Array | undefined
  readonly counters: Counters
  /** No input for this long fails the read with an `IdleTimeout`; undefined: no limit. */
  readonly idleTimeout: Duration.Duration | undefined
  readonly writeTimeout: Duration.Duration
  /** Sent just before the connection is closed by a server shutdown. */
  readonly goodbye: Uint8Array | undefined
}

type Pull = Effect.Effect<Buffer, Option.Option<ConnectionError>>

/**
 * Pulls the next chunk of a socket: what arrived since the last pull, otherwise waits for data, the end of
 * input, an error, the idle timeout or a shutdown. Nothing is read from the kernel beyond the socket's
 * high-water mark until the next pull.
 */
const makeReader = (socket: Net.Socket, settings: Settings, shutdown: Shutdown, clock: Clock.Clock) => {
  let wake: (() => void) | undefined
  const notify = () => {
    const resume = wake
    if (resume !== undefined) {
      wake = undefined
      resume()
    }
  }
  // Flowing mode, with the chunks kept here until pulled: a chunk that arrives while the reader waits is
  // handed over at once; past the high-water mark the socket is paused, so the kernel's TCP window makes the
  // client wait (this costs less per message than paused mode's 'readable' and read()).
  const chunks: Array<Buffer> = []
  let queued = 0
  let paused = false
  const highWaterMark = socket.readableHighWaterMark
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk)
    queued += chunk.length
    if (queued >= highWaterMark && !paused) {
      paused = true
      socket.pause()
    }
    notify()
  })
  socket.on("end", notify)
  socket.on("close", notify)
  socket.on("error", notify)
  let waitingSince: number | undefined
  let idleExpired = false
  const handle: ReaderHandle = {
    notify,
    waitingSince: () => waitingSince,
    expire: () => {
      idleExpired = true
      notify()
    }
  }
  shutdown.readers.add(handle)

  const wait = Effect.async<void>((resume) => {
    waitingSince = clock.unsafeCurrentTimeMillis()
    wake = () => resume(Effect.void)
    return Effect.sync(() => {
      wake = undefined
    })
  })

  const pull: Pull = Effect.suspend(() => {
    waitingSince = undefined
    if (shutdown.draining) return Effect.fail(Option.none())
    if (chunks.length > 0) {
      const chunk = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, queued)
      chunks.length = 0
      queued = 0
      if (paused) {
        paused = false
        socket.resume()
      }
      if (chunk !== undefined) return Effect.succeed(chunk)
    }
    if (socket.errored !== null) {
      return Effect.fail(Option.some(new ConnectionError({ reason: "Read", cause: socket.errored })))
    }
    if (socket.readableEnded || socket.destroyed) return Effect.fail(Option.none())
    if (idleExpired) {
      return Effect.fail(Option.some(new ConnectionError({ reason: "IdleTimeout", cause: settings.idleTimeout })))
    }
    return Effect.zipRight(wait, pull)
  })
  return { pull, detach: () => shutdown.readers.delete(handle) }
}

const closedError = () => Object.assign(new Error("the connection is closed"), { code: "EPIPE" })

/**
 * Writes into the socket's buffer; waits only while the buffer is over its high-water mark.
 */
const makeWriter = (socket: Net.Socket, settings: Settings) => {
  const writeTimeout = settings.writeTimeout
  const drained = Effect.async<void, ConnectionError>((resume) => {
    const done = () => {
      cleanup()
      resume(
        socket.errored !== null
          ? Effect.fail(new ConnectionError({ reason: "Write", cause: socket.errored }))
          : socket.destroyed
          ? Effect.fail(new ConnectionError({ reason: "Write", cause: closedError() }))
          : Effect.void
      )
    }
    const cleanup = () => {
      socket.off("drain", done)
      socket.off("close", done)
      socket.off("error", done)
    }
    socket.on("drain", done)
    socket.on("close", done)
    socket.on("error", done)
    return Effect.sync(cleanup)
  }).pipe(Effect.timeoutFail({
    duration: writeTimeout,
    onTimeout: () => new ConnectionError({ reason: "WriteTimeout", cause: writeTimeout })
  }))
  return (bytes: Uint8Array): Effect.Effect<void, ConnectionError> =>
    Effect.suspend(() => {
      if (socket.errored !== null) return Effect.fail(new ConnectionError({ reason: "Write", cause: socket.errored }))
      if (socket.destroyed || !socket.writable) {
        return Effect.fail(new ConnectionError({ reason: "Write", cause: closedError() }))
      }
      return socket.write(bytes) ? Effect.void : drained
    })
}

const lf = new Uint8Array([0x0a])
const noEnding = new Uint8Array(0)

/**
 * The frames of `pull`: in chunk framing one per read, decoded with a streaming decoder; otherwise as the
 * frame decoder delimits them, each decoded on its own. Frame errors are logged and counted, then skipped or
 * turned into a failure, as `settings.frameErrors` says.
 */
const makeNextFrame = (
  pull: Pull,
  settings: Settings,
  shutdown: Shutdown,
  label: string,
  lastEnding: (ending: Uint8Array) => void
): Effect.Effect<Frame, Option.Option<ConnectionError | FrameError>> => {
  {
    const { counters, encoding, framing } = settings
    const frameError = (reason: FrameError["reason"], length: number, complete: boolean) => {
      const error = new FrameError({
        reason,
        length,
        complete,
        encoding,
        maxFrameBytes: framing._tag === "Chunk" ? 0 : framing.maxFrameBytes
      })
      return settings.frameErrors === "close"
        ? Effect.fail(Option.some(error))
        : Effect.logWarning(`${label}: ${error.message}: skipped`)
    }

    if (framing._tag === "Chunk") {
      const decoder = Encoding.decoder(encoding)
      let flushed = false
      const next: Effect.Effect<Frame, Option.Option<ConnectionError | FrameError>> = pull.pipe(
        Effect.matchEffect({
          onFailure: (error) => {
            if (Option.isSome(error) || flushed) return Effect.fail(error)
            flushed = true
            const rest = decoder.end()
            return rest.length > 0
              ? Effect.succeed({ bytes: noEnding, text: rest, ending: noEnding })
              : Effect.fail(error)
          },
          onSuccess: (bytes): Effect.Effect<Frame, Option.Option<ConnectionError | FrameError>> => {
            const text = decoder.write(bytes)
            if (text.length === 0) return next
            if (Encoding.hasInvalidBytes(text, bytes, encoding)) {
              counters.decodeErrors++
              if (settings.decodeErrors === "fatal") {
                return Effect.zipRight(frameError("Undecodable", bytes.length, true), next)
              }
            }
            return Effect.succeed({ bytes, text, ending: noEnding })
          }
        })
      )
      return next
    }

    const decoder = Framing.makeDecoder(framing)
    let events: ReadonlyArray<Framing.FrameEvent> = []
    let index = 0
    let ended = false
    const next: Effect.Effect<Frame, Option.Option<ConnectionError | FrameError>> = Effect.suspend(() => {
      // On shutdown, frames already read but not yet handled are dropped along with the unread input.
      if (shutdown.draining) return Effect.fail(Option.none())
      while (index < events.length) {
        const event = events[index++]
        if (event === undefined) break
        switch (event._tag) {
          case "Frame": {
            const text = Encoding.decode(event.bytes, encoding)
            if (Encoding.hasInvalidBytes(text, event.bytes, encoding)) {
              counters.decodeErrors++
              if (settings.decodeErrors === "fatal") {
                return Effect.zipRight(frameError("Undecodable", event.bytes.length, true), next)
              }
            }
            if (event.ending.length > 0) lastEnding(event.ending)
            return Effect.succeed({ bytes: event.bytes, text, ending: event.ending })
          }
          case "Oversized": {
            counters.oversized++
            return Effect.zipRight(frameError("TooLong", event.length, event.complete), next)
          }
          case "Incomplete":
            return Effect.zipRight(
              Effect.logWarning(
                `${label}: the input ended inside a frame (${event.length} of ${event.expected} bytes)`
              ),
              next
            )
        }
      }
      if (ended) return Effect.fail(Option.none())
      return pull.pipe(Effect.matchEffect({
        onFailure: (error) => {
          if (Option.isSome(error)) return Effect.fail(error)
          ended = true
          events = decoder.end()
          index = 0
          return next
        },
        onSuccess: (chunk) => {
          events = decoder.push(chunk)
          index = 0
          return next
        }
      }))
    })
    return next
  }
}

/** @internal */
export interface Peer {
  readonly remoteAddress: string
  readonly remotePort: number
}

/** @internal */
export const peerOf = (socket: Net.Socket): Peer => ({
  remoteAddress: socket.remoteAddress ?? "unknown",
  remotePort: socket.remotePort ?? 0
})

/**
 * Closes the socket when the handler is done. After a handler that succeeded, pending output is flushed and
 * the connection ended with a FIN (bounded by the write timeout and by {@link forceClose}); after a failure or
 * an interruption the socket is destroyed at once.
 */
const close = (
  socket: Net.Socket,
  settings: Settings,
  shutdown: Shutdown,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<void> => {
  if (socket.destroyed) return Effect.void
  if (Exit.isFailure(exit)) return Effect.sync(() => socket.destroy())
  if (shutdown.draining && settings.goodbye !== undefined) socket.write(settings.goodbye)
  // All output handed to the kernel and all input read: closing the descriptor sends what is left, then FIN.
  if (socket.writableLength === 0 && socket.readableEnded) return Effect.sync(() => socket.destroy())
  socket.end()
  return Effect.async<void>((resume) => {
    const done = () => {
      cleanup()
      socket.destroy()
      resume(Effect.void)
    }
    const timer = setTimeout(done, Duration.toMillis(settings.writeTimeout))
    const cleanup = () => {
      clearTimeout(timer)
      socket.off("finish", done)
      socket.off("close", done)
      socket.off("error", done)
      shutdown.flushing.delete(done)
    }
    socket.once("finish", done)
    socket.once("close", done)
    socket.once("error", done)
    shutdown.flushing.add(done)
    return Effect.sync(() => {
      cleanup()
      socket.destroy()
    })
  })
}

/**
 * Wraps an accepted socket as a {@link Connection}; the socket is closed when the scope closes.
 *
 * @internal
 */
export const make = (
  socket: Net.Socket,
  id: number,
  peer: Peer,
  settings: Settings,
  shutdown: Shutdown
): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        const reader = makeReader(socket, settings, shutdown, clock)
        const write = makeWriter(socket, settings)
        const { encoding, framing } = settings
        let ending = settings.replyEnding ?? lf
        const label = `connection ${id} from ${peer.remoteAddress}:${peer.remotePort}`
        const nextFrame = makeNextFrame(reader.pull, settings, shutdown, label, (received) => {
          if (settings.replyEnding === undefined) ending = received
        })
        const frames = Stream.repeatEffectOption(nextFrame)
        const sendFrame = (bytes: Uint8Array) =>
          Either.match(Framing.encodeFrame(framing, bytes, ending), { onLeft: Effect.fail, onRight: write })
        const connection: Connection = {
          id,
          remoteAddress: peer.remoteAddress,
          remotePort: peer.remotePort,
          encoding,
          chunks: Stream.repeatEffectOption(reader.pull),
          frames,
          receive: Effect.catchAll(
            Effect.map(nextFrame, Option.some),
            (error) => Option.isSome(error) ? Effect.fail(error.value) : Effect.succeedNone
          ),
          input: Stream.map(frames, (frame) => frame.text),
          send: (text) => sendFrame(Encoding.encode(text, encoding)),
          sendFrame,
          sendBytes: write
        }
        return { connection, reader }
      })
    ),
    ({ reader }, exit) => {
      reader.detach()
      return close(socket, settings, shutdown, exit)
    }
  ).pipe(Effect.map(({ connection }) => connection))
