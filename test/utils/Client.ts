import { Deferred, Effect, Logger, type Scope } from "effect"
import * as Net from "node:net"

/** A real `node:net` client for tests, with what it received kept in a buffer. */
export interface Client {
  readonly socket: Net.Socket
  readonly localPort: number
  readonly write: (bytes: Uint8Array | string) => Effect.Effect<void>
  /** Waits until `n` bytes have arrived and takes them. Fails if the connection closes first. */
  readonly read: (n: number) => Effect.Effect<Buffer, Error>
  /** Waits until the server closes the connection; succeeds with the bytes never read. */
  readonly closed: Effect.Effect<Buffer>
  readonly end: Effect.Effect<void>
  /** Closes abruptly with a TCP RST. */
  readonly reset: Effect.Effect<void>
}

export const connect = (port: number, host = "127.0.0.1"): Effect.Effect<Client, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, Error>((resume) => {
      const socket = Net.connect({ port, host })
      socket.once("error", (error) => resume(Effect.fail(error)))
      socket.once("connect", () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.flatMap((socket) =>
    Effect.gen(function*() {
      const closedDeferred = yield* Deferred.make<void>()
      let received = Buffer.alloc(0)
      let waiter: (() => void) | undefined
      const notify = () => {
        const w = waiter
        waiter = undefined
        w?.()
      }
      socket.on("data", (chunk) => {
        received = Buffer.concat([received, chunk])
        notify()
      })
      socket.on("error", () => {})
      socket.on("close", () => {
        Deferred.unsafeDone(closedDeferred, Effect.void)
        notify()
      })
      const read = (n: number): Effect.Effect<Buffer, Error> =>
        Effect.suspend(() => {
          if (received.length >= n) {
            const out = received.subarray(0, n)
            received = received.subarray(n)
            return Effect.succeed(out)
          }
          if (socket.destroyed) {
            return Effect.fail(new Error(`connection closed after ${received.length} of ${n} bytes`))
          }
          return Effect.async<void>((resume) => {
            waiter = () => resume(Effect.void)
          }).pipe(Effect.zipRight(read(n)))
        })
      return {
        socket,
        localPort: socket.localPort ?? 0,
        write: (bytes) =>
          Effect.async<void>((resume) => {
            socket.write(bytes, () => resume(Effect.void))
          }),
        read,
        closed: Deferred.await(closedDeferred).pipe(Effect.map(() => received)),
        end: Effect.sync(() => {
          socket.end()
        }),
        reset: Effect.sync(() => {
          socket.resetAndDestroy()
        })
      } satisfies Client
    })
  ))

/** Collects log lines; `waitFor` waits, event-driven, until a line matching `predicate` has been logged. */
export const makeLogCapture = Effect.sync(() => {
  const lines: Array<string> = []
  const waiters = new Set<() => void>()
  const logger = Logger.make(({ logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    lines.push(logLevel.label === "INFO" ? text : `${logLevel.label} ${text}`)
    for (const wake of [...waiters]) wake()
  })
  const waitFor = (predicate: (line: string) => boolean): Effect.Effect<string> =>
    Effect.suspend(() => {
      const found = lines.find(predicate)
      if (found !== undefined) return Effect.succeed(found)
      return Effect.async<string>((resume) => {
        const wake = () => {
          waiters.delete(wake)
          resume(waitFor(predicate))
        }
        waiters.add(wake)
        return Effect.sync(() => waiters.delete(wake))
      })
    })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger), waitFor }
})
