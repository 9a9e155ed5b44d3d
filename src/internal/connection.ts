import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { type Connection, ConnectionError } from "../Connection.js"
import * as Encoding from "../Encoding.js"

/**
 * Server-wide shutdown state shared by every connection: once `draining`, readers report the end of input;
 * once `forced` is done, connections stop flushing and close at once.
 *
 * @internal
 */
export interface Shutdown {
  draining: boolean
  readonly readers: Set<() => void>
  readonly forced: Deferred.Deferred<void>
}

/** @internal */
export const makeShutdown: Effect.Effect<Shutdown> = Effect.map(Deferred.make<void>(), (forced) => ({
  draining: false,
  readers: new Set(),
  forced
}))

/** @internal */
export const startDraining = (shutdown: Shutdown): void => {
  shutdown.draining = true
  for (const wake of [...shutdown.readers]) wake()
}

/** @internal */
export interface Settings {
  readonly encoding: string
  /** No input for this long fails the read with an `IdleTimeout`; undefined: no limit. */
  readonly idleTimeout: Duration.Duration | undefined
  readonly writeTimeout: Duration.Duration
  /** Sent just before the connection is closed by a server shutdown. */
  readonly goodbye: Uint8Array | undefined
}

type Pull = Effect.Effect<Buffer, Option.Option<ConnectionError>>

/**
 * Pulls the next chunk of a paused socket: reads what is buffered, otherwise waits for data, the end of
 * input, an error, the idle timeout or a shutdown. Nothing is read from the kernel beyond the socket's
 * high-water mark until the next pull.
 */
const makeReader = (socket: Net.Socket, settings: Settings, shutdown: Shutdown) => {
  let wake: (() => void) | undefined
  const notify = () => {
    const resume = wake
    if (resume !== undefined) {
      wake = undefined
      resume()
    }
  }
  socket.on("readable", notify)
  socket.on("end", notify)
  socket.on("close", notify)
  socket.on("error", notify)
  shutdown.readers.add(notify)

  const waitForInput = Effect.async<void>((resume) => {
    wake = () => resume(Effect.void)
    return Effect.sync(() => {
      wake = undefined
    })
  })
  const idleTimeout = settings.idleTimeout
  const wait: Effect.Effect<void, Option.Option<ConnectionError>> = idleTimeout === undefined
    ? waitForInput
    : Effect.timeoutFail(waitForInput, {
      duration: idleTimeout,
      onTimeout: () => Option.some(new ConnectionError({ reason: "IdleTimeout", cause: idleTimeout }))
    })

  const pull: Pull = Effect.suspend(() => {
    if (shutdown.draining) return Effect.fail(Option.none())
    const chunk: Buffer | null = socket.read()
    if (chunk !== null) return Effect.succeed(chunk)
    if (socket.errored !== null) {
      return Effect.fail(Option.some(new ConnectionError({ reason: "Read", cause: socket.errored })))
    }
    if (socket.readableEnded || socket.destroyed) return Effect.fail(Option.none())
    return Effect.zipRight(wait, pull)
  })
  return { pull, detach: () => shutdown.readers.delete(notify) }
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

/**
 * Decodes the chunks of `pull`, skipping reads that complete no character and flushing the decoder at the end.
 *
 * @internal
 */
export const decodeAll = (pull: Pull, encoding: string): Stream.Stream<string, ConnectionError> =>
  Stream.suspend(() => {
    const decoder = Encoding.decoder(encoding)
    let flushed = false
    const pullText: Effect.Effect<string, Option.Option<ConnectionError>> = pull.pipe(
      Effect.matchEffect({
        onFailure: (error) => {
          if (Option.isSome(error) || flushed) return Effect.fail(error)
          flushed = true
          const rest = decoder.end()
          return rest.length > 0 ? Effect.succeed(rest) : Effect.fail(error)
        },
        onSuccess: (chunk) => {
          const text = decoder.write(chunk)
          return text.length > 0 ? Effect.succeed(text) : pullText
        }
      })
    )
    return Stream.repeatEffectOption(pullText)
  })

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
 * the connection ended with a FIN (bounded by the write timeout and by a forced shutdown); after a failure or
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
  socket.end()
  if (socket.writableFinished) return Effect.sync(() => socket.destroy())
  const finished = Effect.async<void>((resume) => {
    const done = () => resume(Effect.void)
    socket.once("finish", done)
    socket.once("close", done)
    socket.once("error", done)
    return Effect.sync(() => {
      socket.off("finish", done)
      socket.off("close", done)
      socket.off("error", done)
    })
  })
  // Finalizers run uninterruptibly: the race must be interruptible, or its loser could never be stopped.
  return finished.pipe(
    Effect.timeout(settings.writeTimeout),
    Effect.raceFirst(Deferred.await(shutdown.forced)),
    Effect.interruptible,
    Effect.ignore,
    Effect.ensuring(Effect.sync(() => socket.destroy()))
  )
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
    Effect.sync(() => {
      const reader = makeReader(socket, settings, shutdown)
      const write = makeWriter(socket, settings)
      const encoding = settings.encoding
      const connection: Connection = {
        id,
        remoteAddress: peer.remoteAddress,
        remotePort: peer.remotePort,
        encoding,
        chunks: Stream.repeatEffectOption(reader.pull),
        input: decodeAll(reader.pull, encoding),
        send: (text) => write(Encoding.encode(text, encoding)),
        sendBytes: write
      }
      return { connection, reader }
    }),
    ({ reader }, exit) => {
      reader.detach()
      return close(socket, settings, shutdown, exit)
    }
  ).pipe(Effect.map(({ connection }) => connection))
