import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { type Connection, ConnectionError, type ConnectionFailure, type Frame, FrameError } from "../Connection.js"
import * as Encoding from "../Encoding.js"
import * as Framing from "../Framing.js"
import * as FiberLog from "./fiberLog.js"
import * as WakeUp from "./wakeUp.js"

/**
 * What the idle sweeper and a shutdown need of a connection's reader. Plain fields rather than closures: one
 * of these exists per open connection.
 *
 * @internal
 */
export interface ReaderHandle {
  /** When the reader started waiting for input, on the clock's time; undefined while it is not waiting. */
  since: number | undefined
  /** Set by the idle sweeper: the reader then fails with an idle timeout. */
  expired: boolean
  /** Wakes the reader so it looks at its socket and the server's state again. */
  readonly notify: () => void
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
        if (reader.since !== undefined && now - reader.since >= idleMillis) {
          reader.expired = true
          reader.notify()
        }
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

let wakeInline = false

/**
 * The scheduler of connection fibers: the default one, except that a fiber woken by the arrival of data runs
 * at once, inside the socket's event, instead of in a later microtask. Only that wake-up runs inline; whatever
 * the fiber then wakes is scheduled as usual.
 *
 * @internal
 */
export const scheduler: Scheduler.Scheduler = {
  shouldYield: (fiber) => Scheduler.defaultScheduler.shouldYield(fiber),
  scheduleTask: (task, priority, fiber) => {
    if (wakeInline) {
      wakeInline = false
      task()
    } else {
      Scheduler.defaultScheduler.scheduleTask(task, priority, fiber)
    }
  }
}

/** What a reader has right now: a chunk, a failure, the end of input, or nothing yet. */
type Polled = Buffer | ConnectionError | "end" | "wait"

/**
 * The input side of a socket. `poll` takes what arrived since the last call, or says why there is nothing;
 * `wait` completes when there may be something new. Nothing is read from the kernel beyond the socket's
 * high-water mark until the next poll.
 */
interface Reader {
  readonly poll: () => Polled
  readonly wait: Effect.Effect<void>
  readonly waitUntil: WakeUp.WakeUp["waitUntil"]
  readonly detach: () => void
}

const makeReader = (socket: Net.Socket, settings: Settings, shutdown: Shutdown, clock: Clock.Clock): Reader => {
  const wakeUp = WakeUp.make(() => {
    handle.since = clock.unsafeCurrentTimeMillis()
  })
  const handle: ReaderHandle = { since: undefined, expired: false, notify: wakeUp.notify }
  const notify = handle.notify
  // Flowing mode, with the chunks kept here until polled: a chunk that arrives while the reader waits is
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
    wakeInline = true
    notify()
    wakeInline = false
  })
  socket.on("end", notify)
  socket.on("close", notify)
  socket.on("error", notify)
  shutdown.readers.add(handle)

  return {
    poll: () => {
      handle.since = undefined
      if (shutdown.draining) return "end"
      if (chunks.length > 0) {
        // pop() rather than `length = 0` for the usual single chunk: setting an array's length is a runtime call.
        const chunk = chunks.length === 1 ? chunks.pop() : Buffer.concat(chunks.splice(0), queued)
        queued = 0
        if (paused) {
          paused = false
          socket.resume()
        }
        if (chunk !== undefined) return chunk
      }
      if (socket.errored !== null) return new ConnectionError({ reason: "Read", cause: socket.errored })
      if (socket.readableEnded || socket.destroyed) return "end"
      if (handle.expired) return new ConnectionError({ reason: "IdleTimeout", cause: settings.idleTimeout })
      return "wait"
    },
    wait: wakeUp.wait,
    waitUntil: wakeUp.waitUntil,
    detach: () => {
      wakeUp.clear()
      shutdown.readers.delete(handle)
    }
  }
}

const closedError = () => Object.assign(new Error("the connection is closed"), { code: "EPIPE" })

/** Completes when the socket's outgoing buffer has drained, fails if it closes first or after the write timeout. */
const makeDrained = (socket: Net.Socket, settings: Settings): Effect.Effect<void, ConnectionError> =>
  Effect.async<void, ConnectionError>((resume) => {
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
    duration: settings.writeTimeout,
    onTimeout: () => new ConnectionError({ reason: "WriteTimeout", cause: settings.writeTimeout })
  }))

/**
 * Writes into the socket's buffer at once. Returns undefined when the buffer is still under its high-water
 * mark; otherwise the effect to wait on until it has drained, or the failure when the socket is closed.
 */
const makeWriter = (socket: Net.Socket, settings: Settings) => {
  // Built on the first write that has to wait: most connections never need it.
  let drained: Effect.Effect<void, ConnectionError> | undefined
  return (bytes: Uint8Array): Effect.Effect<void, ConnectionError> | undefined => {
    if (socket.errored !== null) return Effect.fail(new ConnectionError({ reason: "Write", cause: socket.errored }))
    if (socket.destroyed || !socket.writable) {
      return Effect.fail(new ConnectionError({ reason: "Write", cause: closedError() }))
    }
    return socket.write(bytes) ? undefined : (drained ??= makeDrained(socket, settings))
  }
}

const lf = new Uint8Array([0x0a])
const noEnding = new Uint8Array(0)

type Receive = Effect.Effect<Option.Option<Frame>, ConnectionError | FrameError>

/**
 * What the next frame is, found without running an effect: a frame; an effect to run before looking again (a
 * warning for a skipped frame) or that fails (a read or frame error); nothing yet; or the end of input.
 */
type Taken = Frame | Effect.Effect<void, ConnectionError | FrameError> | "wait" | "end"

/**
 * The frames of a reader: in chunk framing one per read, decoded with a streaming decoder; otherwise as the
 * frame decoder delimits them, each decoded on its own. Frame errors are logged and counted, then skipped or
 * turned into a failure, as `settings.frameErrors` says.
 */
const makeTake = (
  reader: Reader,
  settings: Settings,
  shutdown: Shutdown,
  label: string,
  lastEnding: (ending: Uint8Array) => void
): () => Taken => {
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
      ? Effect.fail(error)
      : Effect.logWarning(`${label}: ${error.message}: skipped`)
  }

  if (framing._tag === "Chunk") {
    const decoder = Encoding.decoder(encoding)
    let flushed = false
    return () => {
      for (;;) {
        const polled = reader.poll()
        if (polled === "wait") return "wait"
        if (polled === "end") {
          if (flushed) return "end"
          flushed = true
          const rest = decoder.end()
          return rest.length > 0 ? { bytes: noEnding, text: rest, ending: noEnding } : "end"
        }
        if (polled instanceof ConnectionError) return Effect.fail(polled)
        const text = decoder.write(polled)
        if (text.length === 0) continue
        if (Encoding.hasInvalidBytes(text, polled, encoding)) {
          counters.decodeErrors++
          if (settings.decodeErrors === "fatal") return frameError("Undecodable", polled.length, true)
        }
        return { bytes: polled, text, ending: noEnding }
      }
    }
  }

  const decoder = Framing.makeDecoder(framing)
  let events: ReadonlyArray<Framing.FrameEvent> = []
  let index = 0
  let ended = false
  return () => {
    for (;;) {
      // On shutdown, frames already read but not yet handled are dropped along with the unread input.
      if (shutdown.draining) return "end"
      while (index < events.length) {
        const event = events[index++]
        if (event === undefined) break
        switch (event._tag) {
          case "Frame": {
            const text = Encoding.decode(event.bytes, encoding)
            if (Encoding.hasInvalidBytes(text, event.bytes, encoding)) {
              counters.decodeErrors++
              if (settings.decodeErrors === "fatal") return frameError("Undecodable", event.bytes.length, true)
            }
            if (event.ending.length > 0) lastEnding(event.ending)
            return { bytes: event.bytes, text, ending: event.ending }
          }
          case "Oversized": {
            counters.oversized++
            return frameError("TooLong", event.length, event.complete)
          }
          case "Incomplete":
            return Effect.logWarning(
              `${label}: the input ended inside a frame (${event.length} of ${event.expected} bytes)`
            )
        }
      }
      if (ended) return "end"
      const polled = reader.poll()
      if (polled === "wait") return "wait"
      if (polled instanceof ConnectionError) return Effect.fail(polled)
      index = 0
      if (polled === "end") {
        ended = true
        events = decoder.end()
      } else {
        events = decoder.push(polled)
      }
    }
  }
}

/**
 * Takes frames: waits while there is nothing, runs what `take` asks for in between (warnings, failures), and
 * ends with `onEnd` at the end of input or with `onFrame` for a frame, which gets the step itself to go on.
 * Frames already read are handled without suspending the fiber.
 */
const makeStep = <A, E, R>(
  take: () => Taken,
  wait: Effect.Effect<void>,
  onEnd: Effect.Effect<A>,
  onFrame: (frame: Frame, again: () => Effect.Effect<A, E | ConnectionError | FrameError, R>) => Effect.Effect<
    A,
    E | ConnectionError | FrameError,
    R
  >
): Effect.Effect<A, E | ConnectionError | FrameError, R> => {
  const step: Effect.Effect<A, E | ConnectionError | FrameError, R> = Effect.suspend(() => {
    const taken = take()
    return taken === "wait"
      ? waitThenStep
      : taken === "end"
      ? onEnd
      : Effect.isEffect(taken)
      ? Effect.flatMap(taken, again)
      : onFrame(taken, again)
  })
  const again = () => step
  const waitThenStep = Effect.flatMap(wait, again)
  return step
}

/** The next frame, `None` at the end of input. */
const makeReceive = (take: () => Taken, wait: Effect.Effect<void>): Receive =>
  makeStep(take, wait, Effect.succeedNone, (frame) => Effect.succeed(Option.some(frame)))

/** Runs `f` for every frame until the end of input: the receive loop with one step less per frame. */
const makeForEachFrame = (take: () => Taken, wait: Effect.Effect<void>): Connection["forEachFrame"] => (f) =>
  makeStep(take, wait, Effect.void, (frame, again) => Effect.flatMap(f(frame), again))

/** Writes a frame at once: undefined, or what to wait on or fail with (see {@link makeWriter}). */
type FrameNow = (bytes: Uint8Array) => Effect.Effect<void, ConnectionError | Framing.FrameTooLongError> | undefined

/**
 * Answers frames inside the socket's `data` event: the fiber sleeps until the end of input, and wakes up only
 * for what needs it (a warning to log, a failure, a full output buffer to wait on). Frames are taken, logged
 * and answered in order, and none is taken while the fiber waits for the output to drain.
 */
const makeRespond = (
  take: () => Taken,
  waitUntil: Reader["waitUntil"],
  frameNow: FrameNow,
  encoding: string
): Connection["respond"] =>
(f, options) =>
  Effect.withFiberRuntime((fiber) => {
    const format = options?.log
    const logLine = format === undefined ? undefined : FiberLog.make(fiber, LogLevel.Info)
    const logFrame = format === undefined || logLine === undefined
      ? undefined
      : (frame: Frame) => logLine(format(frame))
    // Runs inside the socket's events, outside the fiber: anything thrown here (by `f`, `log`, or a bug of
    // ours) must become the fiber's defect rather than escape into the event emitter.
    const check = (): Effect.Effect<void, ConnectionFailure> | undefined => {
      try {
        for (;;) {
          const taken = take()
          if (taken === "wait") return undefined
          if (taken === "end") return Effect.void
          if (Effect.isEffect(taken)) return Effect.zipRight(taken, loop)
          logFrame?.(taken)
          const reply = f(taken)
          if (reply === undefined) continue
          const wait = frameNow(typeof reply === "string" ? Encoding.encode(reply, encoding) : reply)
          if (wait !== undefined) return Effect.zipRight(wait, loop)
        }
      } catch (defect) {
        return Effect.die(defect)
      }
    }
    const loop = waitUntil(check)
    return loop
  })

/** The chunks of a reader as a stream's pull: the end of input fails with `None`. */
const makePull = (reader: Reader): Effect.Effect<Buffer, Option.Option<ConnectionError>> => {
  const pull: Effect.Effect<Buffer, Option.Option<ConnectionError>> = Effect.suspend(() => {
    const polled = reader.poll()
    return polled === "wait"
      ? waitThenPull
      : polled === "end"
      ? Effect.fail(Option.none())
      : polled instanceof ConnectionError
      ? Effect.fail(Option.some(polled))
      : Effect.succeed(polled)
  })
  const waitThenPull = Effect.zipRight(reader.wait, pull)
  return pull
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
 * Wraps an accepted socket as a {@link Connection}; the socket is closed when `scope` closes. The streams
 * of the connection are built when first used: most handlers use one of them, or none. Run it uninterruptibly,
 * so the socket is in the scope as soon as the connection exists.
 *
 * @internal
 */
export const make = (
  socket: Net.Socket,
  id: number,
  peer: Peer,
  settings: Settings,
  shutdown: Shutdown,
  scope: Scope.Scope
): Effect.Effect<Connection> =>
  Effect.clockWith((clock) => {
    const reader = makeReader(socket, settings, shutdown, clock)
    const write = makeWriter(socket, settings)
    const { encoding, framing } = settings
    let ending = settings.replyEnding ?? lf
    const take = makeTake(
      reader,
      settings,
      shutdown,
      `connection ${id} from ${peer.remoteAddress}:${peer.remotePort}`,
      (received) => {
        if (settings.replyEnding === undefined) ending = received
      }
    )
    // Framed when run, not when called: the line ending is the one the client used last at that moment.
    const frameNow: FrameNow = framing._tag === "Chunk"
      ? write
      : (bytes) => Either.match(Framing.encodeFrame(framing, bytes, ending), { onLeft: Effect.fail, onRight: write })
    const sendFrame = (bytes: Uint8Array) => Effect.suspend(() => frameNow(bytes) ?? Effect.void)
    let receive: Receive | undefined
    let chunks: Connection["chunks"] | undefined
    let frames: Connection["frames"] | undefined
    let input: Connection["input"] | undefined
    const connection: Connection = {
      id,
      remoteAddress: peer.remoteAddress,
      remotePort: peer.remotePort,
      encoding,
      get chunks() {
        return chunks ??= Stream.repeatEffectOption(makePull(reader))
      },
      get frames() {
        return frames ??= Stream.repeatEffectOption(
          Effect.flatMap(
            Effect.mapError(this.receive, Option.some),
            (frame) => Option.isSome(frame) ? Effect.succeed(frame.value) : Effect.fail(Option.none())
          )
        )
      },
      get input() {
        return input ??= Stream.map(this.frames, (frame) => frame.text)
      },
      get receive() {
        return receive ??= makeReceive(take, reader.wait)
      },
      forEachFrame: makeForEachFrame(take, reader.wait),
      respond: makeRespond(take, reader.waitUntil, frameNow, encoding),
      send: (text) => sendFrame(Encoding.encode(text, encoding)),
      sendFrame,
      sendBytes: (bytes) => Effect.suspend(() => write(bytes) ?? Effect.void)
    }
    // Scope.addFinalizerExit rather than Effect.acquireRelease: the latter also records and restores the
    // fiber's FiberRefs around the finalizer, which costs about 20 µs per connection and buys nothing here.
    return Effect.as(
      Scope.addFinalizerExit(scope, (exit) => {
        reader.detach()
        return close(socket, settings, shutdown, exit)
      }),
      connection
    )
  })
