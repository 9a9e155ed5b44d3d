import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { type Address, TcpServerError } from "../TcpServer.js"
import * as Pacer from "./pacer.js"
import * as WakeUp from "./wakeUp.js"

/** @internal */
export interface ListenOptions {
  readonly host: string
  readonly port: number
  readonly backlog: number
  /** Buffer size of each socket, each way, in bytes. */
  readonly highWaterMark: number
  /**
   * Decides, before a socket is queued, whether to take it: returns undefined to accept it or why it is
   * refused; `refuse` is then called and the socket closed.
   */
  readonly admit: (socket: Net.Socket) => string | undefined
  readonly refuse: (socket: Net.Socket, reason: string) => void
  /** Called for errors of the listening socket while it runs, such as EMFILE on accept. */
  readonly onAcceptError: (error: Error) => void
  /**
   * Called when a connection is dropped because the process is about to run out of file descriptors
   * (see {@link descriptorBudget}); `budget` is how many connections it can hold.
   */
  readonly onDescriptorsExhausted: (budget: number) => void
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
  readonly accepted: Stream.Stream<Net.Socket>
  /** Sockets accepted and not yet closed. */
  readonly open: ReadonlySet<Net.Socket>
  /** Stops accepting, destroys the sockets the stream has not taken yet and ends the stream. Idempotent. */
  readonly stopAccepting: Effect.Effect<void>
}

const toAddress = (server: Net.Server, requestedHost: string): Address => {
  const bound = server.address()
  return bound !== null && typeof bound === "object"
    ? { host: bound.address, port: bound.port, family: bound.family === "IPv6" ? "IPv6" : "IPv4" }
    : { host: requestedHost, port: 0, family: "IPv4" }
}

const listenError = (options: ListenOptions, cause: unknown): TcpServerError => {
  const code = cause instanceof Error && "code" in cause ? cause.code : undefined
  const reason = code === "EADDRINUSE"
    ? "AddressInUse"
    : code === "EACCES" || code === "EPERM"
    ? "PermissionDenied"
    : code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME"
    ? "AddressNotAvailable"
    : "Listen"
  return new TcpServerError({ reason, host: options.host, port: options.port, cause })
}

/**
 * Listens on a `node:net` server; closing the scope destroys every socket it accepted and waits until the
 * server has closed.
 *
 * @internal
 */
export const listen = (options: ListenOptions): Effect.Effect<Listener, TcpServerError, Scope.Scope> =>
  Effect.gen(function*() {
    // The sockets accepted and not yet taken by the stream, and the stream's pull waiting for one: a plain
    // array and a wake-up rather than a Queue, whose take allocates a Deferred when it has to wait.
    const waiting: Array<Net.Socket> = []
    const wakeUp = WakeUp.make()
    const notify = wakeUp.notify
    const open = new Set<Net.Socket>()
    let accepting = true
    const pacer = Pacer.make((sockets) => {
      for (const socket of sockets) waiting.push(socket)
      notify()
    })
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
      const refusal = options.admit(socket)
      if (refusal !== undefined) {
        options.refuse(socket, refusal)
        return
      }
      open.add(socket)
      socket.once("close", () => open.delete(socket))
      pacer.add(socket)
    })

    yield* Effect.acquireRelease(
      Effect.async<Promise<void>, TcpServerError>((resume) => {
        const onError = (cause: Error) => resume(Effect.fail(listenError(options, cause)))
        server.once("error", onError)
        try {
          server.listen({ host: options.host, port: options.port, backlog: options.backlog }, () => {
            server.off("error", onError)
            server.on("error", options.onAcceptError)
            resume(Effect.succeed(new Promise<void>((resolve) => server.once("close", () => resolve()))))
          })
        } catch (cause) {
          server.off("error", onError)
          resume(Effect.fail(listenError(options, cause)))
        }
      }),
      (closed) =>
        Effect.promise(() => {
          server.close()
          for (const socket of open) socket.destroy()
          return closed
        })
    )

    const stopAccepting = Effect.sync(() => {
      if (!accepting) return
      accepting = false
      server.close()
      for (const socket of waiting.splice(0)) socket.destroy()
      for (const socket of pacer.takeAll()) socket.destroy()
      notify()
    })

    // Everything the pacer has handed on since the last pull, as one chunk; the end of the stream once accepting
    // has stopped.
    const pull: Effect.Effect<Chunk.Chunk<Net.Socket>, Option.Option<never>> = Effect.suspend(() =>
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
      open,
      stopAccepting
    }
  })

const onSocketError = (): void => {}
