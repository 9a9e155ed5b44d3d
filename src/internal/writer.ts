import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Net from "node:net"
import { ConnectionError } from "../Connection.js"
import * as Registry from "./registry.js"
import * as Tally from "./tally.js"

const closedError = () => Object.assign(new Error("the connection is closed"), { code: "EPIPE" })

/** Completes when the socket's outgoing buffer has drained; fails if it closes first or after the write timeout. */
const drained = (
  socket: Net.Socket,
  writeTimeout: Duration.Duration | undefined
): Effect.Effect<void, ConnectionError> => {
  const wait = Effect.async<void, ConnectionError>((resume) => {
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
  })
  return writeTimeout === undefined ? wait : Effect.timeoutFail(wait, {
    duration: writeTimeout,
    onTimeout: () => new ConnectionError({ reason: "WriteTimeout", timeout: writeTimeout })
  })
}

/**
 * The output side of a socket. `write` writes into the socket's buffer at once, and returns undefined when the
 * buffer is still under its high-water mark; otherwise the effect to wait on until it has drained, or the
 * failure when the socket is closed. One object per connection, its method on the prototype.
 *
 * @internal
 */
export class Writer {
  // Built on the first write that has to wait: most connections never need it.
  private wait: Effect.Effect<void, ConnectionError> | undefined = undefined

  constructor(
    private readonly socket: Net.Socket,
    private readonly writeTimeout: Duration.Duration | undefined,
    private readonly tally: Tally.Tally
  ) {}

  write(bytes: Uint8Array): Effect.Effect<void, ConnectionError> | undefined {
    const socket = this.socket
    if (socket.errored !== null) return Effect.fail(new ConnectionError({ reason: "Write", cause: socket.errored }))
    if (socket.destroyed || !socket.writable) {
      return Effect.fail(new ConnectionError({ reason: "Write", cause: closedError() }))
    }
    Tally.sent(this.tally, bytes.length)
    return socket.write(bytes) ? undefined : (this.wait ??= drained(socket, this.writeTimeout))
  }
}

/** @internal */
export const make = (socket: Net.Socket, writeTimeout: Duration.Duration | undefined, tally: Tally.Tally): Writer =>
  new Writer(socket, writeTimeout, tally)

/**
 * Closes a socket whose reader is discarding its input. After a handler that failed or was interrupted, the
 * socket is destroyed at once. After a handler that succeeded, the close is graceful, so that everything
 * written arrives: `last` (the goodbye text, when a shutdown ends the connection) is written, then FIN after
 * the pending output; the input is read and discarded until the client's FIN (closing a descriptor with unread
 * input makes the kernel send RST and drop the send queue). The socket is destroyed then, or after `timeoutMillis`,
 * or at once by {@link Registry.forceClose}.
 *
 * @internal
 */
export const close = (
  socket: Net.Socket,
  registry: Registry.Registry,
  exit: Exit.Exit<unknown, unknown>,
  last: Uint8Array | undefined,
  timeoutMillis: number
): Effect.Effect<void> => {
  if (socket.destroyed) return Effect.void
  if (Exit.isFailure(exit)) return Effect.sync(() => socket.destroy())
  return Effect.async<void>((resume) => {
    gracefully(socket, registry, last, timeoutMillis, () => resume(Effect.void))
    return Effect.sync(() => socket.destroy())
  })
}

/**
 * The graceful close of {@link close}, from plain code: also used for sockets accepted but never served when a
 * shutdown starts.
 *
 * @internal
 */
export const gracefully = (
  socket: Net.Socket,
  registry: Registry.Registry,
  last: Uint8Array | undefined,
  timeoutMillis: number,
  onClosed: () => void = noop
): void => {
  if (socket.destroyed) return onClosed()
  // Everything read up to the client's FIN and everything written handed to the kernel: closing the descriptor
  // sends FIN after it, and there is no unread input to make it a reset.
  if ((last === undefined || last.length === 0) && socket.readableEnded && socket.writableLength === 0) {
    socket.destroy()
    return onClosed()
  }
  if (last !== undefined && last.length > 0 && socket.writable) socket.write(last)
  const done = () => {
    clearTimeout(timer)
    socket.off("close", done)
    socket.off("end", check)
    socket.off("finish", check)
    Registry.closeEnded(registry, done)
    socket.destroy()
    onClosed()
  }
  // Both ways finished: nothing is lost by closing the descriptor now.
  const check = () => {
    if (socket.writableFinished && socket.readableEnded) done()
  }
  const timer = setTimeout(done, timeoutMillis)
  socket.once("close", done)
  socket.on("end", check)
  socket.on("finish", check)
  registry.closing.add(done)
  if (socket.listenerCount("data") === 0) socket.on("data", noop)
  socket.resume()
  socket.end()
  check()
}

const noop = () => {}

/** @internal */
export const millis = (duration: Duration.Duration | undefined, fallback: number): number =>
  duration === undefined ? fallback : Duration.toMillis(duration)
