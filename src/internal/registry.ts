import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Net from "node:net"

/**
 * What the idle sweeper and a shutdown need of a connection's reader. Plain fields rather than closures: one
 * of these exists per open connection.
 *
 * @internal
 */
export interface Watched {
  /** When the reader started waiting for input, on the clock's time; undefined while it is not waiting. */
  since: number | undefined
  /** Set by the idle sweeper: the reader then fails with an idle timeout. */
  expired: boolean
  /** Wakes the reader so it looks at its socket and the server's state again. */
  readonly notify: () => void
}

/**
 * The open connections of a server: the sockets admitted and not yet closed, the readers (for the idle sweeper
 * and for draining), whether the server is draining (readers then report the end of input), and the
 * connections closing gracefully (a forced shutdown destroys them). This is where the server keeps track of
 * its clients.
 *
 * @internal
 */
export interface Registry {
  readonly open: Set<Net.Socket>
  readonly readers: Set<Watched>
  /** The graceful closes in progress, each as the function that ends it at once. */
  readonly closing: Set<() => void>
  /** Called when the last socket has closed and the last graceful close has ended. */
  readonly settled: Array<() => void>
  draining: boolean
  /** The 'close' listener of every open socket: one function for the server, not one per connection. */
  readonly onClose: (this: Net.Socket) => void
}

/** @internal */
export const make = (): Registry => {
  const registry: Registry = {
    open: new Set(),
    readers: new Set(),
    closing: new Set(),
    settled: [],
    draining: false,
    // An event listener is called with the emitter as `this`.
    onClose(this: Net.Socket) {
      registry.open.delete(this)
      settle(registry)
    }
  }
  return registry
}

const isSettled = (registry: Registry): boolean => registry.open.size === 0 && registry.closing.size === 0

const settle = (registry: Registry): void => {
  if (registry.settled.length > 0 && isSettled(registry)) {
    for (const callback of registry.settled.splice(0)) {
      callback()
    }
  }
}

/** A graceful close has ended. @internal */
export const closeEnded = (registry: Registry, done: () => void): void => {
  registry.closing.delete(done)
  settle(registry)
}

/** Completes when every socket has closed and no graceful close is in progress. @internal */
export const awaitSettled = (registry: Registry): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (isSettled(registry)) return resume(Effect.void)
    const callback = () => resume(Effect.void)
    registry.settled.push(callback)
    return Effect.sync(() => {
      const index = registry.settled.indexOf(callback)
      if (index >= 0) registry.settled.splice(index, 1)
    })
  })

/** Tracks a socket until it closes. @internal */
export const add = (registry: Registry, socket: Net.Socket): void => {
  registry.open.add(socket)
  // `on` rather than `once` ('close' is emitted once): `once` wraps the listener in a function per socket.
  socket.on("close", registry.onClose)
}

/** Every reader reports the end of input from now on. @internal */
export const startDraining = (registry: Registry): void => {
  registry.draining = true
  for (const reader of [...registry.readers]) reader.notify()
}

/** Ends every graceful close at once, and destroys every socket still open. @internal */
export const forceClose = (registry: Registry): void => {
  for (const done of [...registry.closing]) done()
  for (const socket of [...registry.open]) socket.destroy()
}

/**
 * Closes the connections whose reader has waited for input for `idleMillis` or more: one fiber for the whole
 * server, waking every `idleMillis / 10` (10 ms to 1 s), rather than a timer per read.
 *
 * @internal
 */
export const idleSweeper = (registry: Registry, idleMillis: number): Effect.Effect<never> =>
  Effect.clockWith((clock) => {
    const tick = Duration.millis(Math.min(1000, Math.max(10, Math.floor(idleMillis / 10))))
    return Effect.sync(() => {
      const now = clock.unsafeCurrentTimeMillis()
      for (const reader of registry.readers) {
        if (reader.since !== undefined && now - reader.since >= idleMillis) {
          reader.expired = true
          reader.notify()
        }
      }
    }).pipe(Effect.zipRight(Effect.sleep(tick)), Effect.forever)
  })
