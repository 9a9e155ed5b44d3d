import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import type * as Net from "node:net"
import { ConnectionError } from "../Connection.js"
import type * as Registry from "./registry.js"
import * as WakeUp from "./wakeUp.js"

/**
 * What a reader has right now.
 *
 * @internal
 */
export type Read =
  | { readonly _tag: "Chunk"; readonly bytes: Buffer }
  | { readonly _tag: "Wait" }
  | { readonly _tag: "End" }
  | { readonly _tag: "Fail"; readonly error: ConnectionError }

const wait: Read = { _tag: "Wait" }
const end: Read = { _tag: "End" }

/**
 * The input side of a socket. `poll` takes what arrived since the last call, or says why there is nothing;
 * `wakeUp` is notified when there may be something new. Nothing is read from the kernel beyond the socket's
 * high-water mark until the next poll, so a slow consumer makes a fast client wait in TCP flow control.
 *
 * @internal
 */
export interface Reader {
  readonly poll: () => Read
  readonly wakeUp: WakeUp.WakeUp
  /** Whether the server is shutting down: frames read but not yet handled are then dropped. */
  readonly draining: () => boolean
  /** Stops reporting to the registry and from now on reads and discards whatever arrives. */
  readonly discard: () => void
}

/** @internal */
export const make = (
  socket: Net.Socket,
  registry: Registry.Registry,
  clock: Clock.Clock,
  idleTimeout: Duration.Duration | undefined
): Reader => {
  const wakeUp = WakeUp.make(() => {
    watched.since = clock.unsafeCurrentTimeMillis()
  })
  const watched: Registry.Watched = { since: undefined, expired: false, notify: wakeUp.notify }
  const notify = wakeUp.notify
  // Flowing mode, with the chunks kept here until polled: a chunk that arrives while the reader waits is
  // handed over at once; past the high-water mark the socket is paused (this costs less per message than
  // paused mode's 'readable' and read()).
  let chunks: Array<Buffer> = []
  let queued = 0
  let paused = false
  let discarding = false
  const highWaterMark = socket.readableHighWaterMark
  const onData = (chunk: Buffer) => {
    if (discarding) return
    chunks.push(chunk)
    queued += chunk.length
    if (queued >= highWaterMark && !paused) {
      paused = true
      socket.pause()
    }
    notify()
  }
  socket.on("data", onData)
  socket.on("end", notify)
  socket.on("close", notify)
  socket.on("error", notify)
  registry.readers.add(watched)

  return {
    poll: () => {
      watched.since = undefined
      if (registry.draining) return end
      if (chunks.length > 0) {
        // pop() rather than `length = 0` for the usual single chunk: setting an array's length is a runtime call.
        const bytes = chunks.length === 1 ? chunks.pop() : Buffer.concat(chunks.splice(0), queued)
        queued = 0
        if (paused) {
          paused = false
          socket.resume()
        }
        if (bytes !== undefined) return { _tag: "Chunk", bytes }
      }
      if (socket.errored !== null) {
        return { _tag: "Fail", error: new ConnectionError({ reason: "Read", cause: socket.errored }) }
      }
      if (socket.readableEnded || socket.destroyed) return end
      if (watched.expired) {
        return { _tag: "Fail", error: new ConnectionError({ reason: "IdleTimeout", timeout: idleTimeout }) }
      }
      return wait
    },
    wakeUp,
    draining: () => registry.draining,
    discard: () => {
      wakeUp.clear()
      registry.readers.delete(watched)
      discarding = true
      chunks = []
      queued = 0
      if (paused) {
        paused = false
        socket.resume()
      }
    }
  }
}
