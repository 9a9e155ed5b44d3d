import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import type * as Connection from "./connection.js"
import * as Pacer from "./pacer.js"
import * as WakeUp from "./wakeUp.js"

/** @internal */
export interface ListenOptions {
  readonly host: string
  readonly port: number
  readonly backlog: number
  /** Buffer size of each socket, each way, in bytes. */
  readonly highWaterMark: number
  /** Called for errors of the listening socket while it runs, such as EMFILE on accept. */
  readonly onAcceptError: (error: Error) => void
  /**
   * Called when a connection is dropped because the process is about to run out of file descriptors
   * (see {@link descriptorBudget}); `budget` is how many connections it can hold.
   */
  readonly onDescriptorsExhausted: (budget: number) => void
}

/**
 * The address of the server, as bound.
 *
 * @internal
 */
export interface Address {
  readonly host: string
  readonly port: number
  readonly family: "IPv4" | "IPv6"
}

/**
 * A socket just accepted, with the client's address read at once: a client that resets its connection before
 * the server looks has no address any more. `peer` is undefined when it could not be read.
 *
 * @internal
 */
export interface Accepted {
  readonly socket: Net.Socket
  readonly peer: Connection.Peer | undefined
}

/**
 * Listening failed: the raw cause, turned into the public error by the server.
 *
 * @internal
 */
export interface ListenFailure {
  readonly _tag: "ListenFailure"
  readonly cause: unknown
}

/**
 * How many connections the process can hold before it runs out of file descriptors: the soft
 * RLIMIT_NOFILE (from /proc/self/limits) less the descriptors already open and a reserve for files, logs
 * and the like. Undefined where the limit cannot be read.
 *
 * @internal
 */
export const descriptorBudget = (reserve = 32): number | undefined => {
  try {
    const limits = Fs.readFileSync("/proc/self/limits", "utf8")
    const match = /^Max open files\s+(\d+)/m.exec(limits)
    if (match === null || match[1] === undefined) return undefined
    const inUse = Fs.readdirSync("/proc/self/fd").length
    return Math.max(1, Number(match[1]) - inUse - reserve)
  } catch {
    return undefined
  }
}

/** @internal */
export interface Listener {
  readonly address: Address
  /** Every accepted socket, in order. Sockets accepted before the stream is run wait until it is. */
  readonly accepted: Stream.Stream<Accepted>
  /**
   * Stops accepting and ends the stream; returns the sockets accepted but not yet taken by the stream, for the
   * caller to close. Idempotent.
   */
  readonly stopAccepting: Effect.Effect<ReadonlyArray<Accepted>>
  /** Closes the listening socket and waits until it has closed. */
  readonly close: Effect.Effect<void>
}

const toAddress = (server: Net.Server, requestedHost: string): Address => {
  const bound = server.address()
  return bound !== null && typeof bound === "object"
    ? { host: bound.address, port: bound.port, family: bound.family === "IPv6" ? "IPv6" : "IPv4" }
    : { host: requestedHost, port: 0, family: "IPv4" }
}

const listenFailure = (cause: unknown): ListenFailure => ({ _tag: "ListenFailure", cause })

const peerOf = (socket: Net.Socket): Connection.Peer | undefined => {
  const remoteAddress = socket.remoteAddress
  const remotePort = socket.remotePort
  return remoteAddress === undefined || remotePort === undefined ? undefined : { remoteAddress, remotePort }
}

/**
 * Listens on a `node:net` server; closing the scope (or `close`) stops it and waits until it has closed. The
 * sockets it hands on are the caller's to close.
 *
 * @internal
 */
export const listen = (options: ListenOptions): Effect.Effect<Listener, ListenFailure, Scope.Scope> =>
  Effect.gen(function*() {
    // The sockets accepted and not yet taken by the stream, and the stream's pull waiting for one: a plain
    // array and a wake-up rather than a Queue, whose take allocates a Deferred when it has to wait.
    const waiting: Array<Accepted> = []
    const wakeUp = WakeUp.make()
    const notify = wakeUp.notify
    const pacer = Pacer.make({ handOn: notify, waiting: () => waiting.length })
    let accepting = true
    const server = Net.createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: options.highWaterMark })
    // Past this, Node accepts and closes at once ("drop"), so the process never reaches EMFILE: otherwise libuv
    // silently accepts and closes connections to get out of EMFILE, and the server could not tell.
    const budget = descriptorBudget()
    if (budget !== undefined) {
      server.maxConnections = budget
      server.on("drop", () => options.onDescriptorsExhausted(budget))
    }
    server.on("connection", (socket) => {
      // Errors surface through reads and writes (`socket.errored`); without a listener an error on a socket
      // waiting in the queue would crash the process.
      socket.on("error", onSocketError)
      if (!accepting) {
        socket.destroy()
        return
      }
      // The accept loop takes everything accepted since its last pull as one chunk, when the pacer says.
      waiting.push({ socket, peer: peerOf(socket) })
      pacer.accepted()
    })

    const closed = yield* Effect.acquireRelease(
      Effect.async<Promise<void>, ListenFailure>((resume) => {
        const onError = (cause: Error) => resume(Effect.fail(listenFailure(cause)))
        server.once("error", onError)
        try {
          server.listen({ host: options.host, port: options.port, backlog: options.backlog }, () => {
            server.off("error", onError)
            server.on("error", options.onAcceptError)
            resume(Effect.succeed(new Promise<void>((resolve) => server.once("close", () => resolve()))))
          })
        } catch (cause) {
          server.off("error", onError)
          resume(Effect.fail(listenFailure(cause)))
        }
      }),
      (closed) =>
        Effect.promise(() => {
          server.close()
          return closed
        })
    )

    const stopAccepting = Effect.sync((): ReadonlyArray<Accepted> => {
      if (!accepting) return []
      accepting = false
      server.close()
      notify()
      return waiting.splice(0)
    })

    // Everything accepted since the last pull, as one chunk; the end of the stream once accepting
    // has stopped.
    const pull: Effect.Effect<Chunk.Chunk<Accepted>, Option.Option<never>> = Effect.suspend(() =>
      waiting.length > 0
        ? Effect.succeed(Chunk.unsafeFromArray(waiting.splice(0)))
        : accepting
        ? waitThenPull
        : Effect.fail(Option.none())
    )
    const waitThenPull = Effect.zipRight(wakeUp.wait, pull)

    return {
      address: toAddress(server, options.host),
      accepted: Stream.repeatEffectChunkOption(pull),
      stopAccepting,
      close: Effect.promise(() => {
        server.close()
        return closed
      })
    }
  })

const onSocketError = (): void => {}
