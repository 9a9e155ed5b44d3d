import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import { type Address, TcpServerError } from "../TcpServer.js"

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
}

/** @internal */
export interface Listener {
  readonly address: Address
  /** Every accepted socket, in order. Sockets accepted before the stream is run wait in a queue. */
  readonly accepted: Stream.Stream<Net.Socket>
  /** Sockets accepted and not yet closed. */
  readonly open: ReadonlySet<Net.Socket>
  /** Stops accepting and destroys the sockets still waiting in the queue. Idempotent. */
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
    const queue = yield* Queue.unbounded<Net.Socket>()
    const open = new Set<Net.Socket>()
    let accepting = true
    const server = Net.createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: options.highWaterMark })
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
      if (!Queue.unsafeOffer(queue, socket)) socket.destroy()
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

    const stopAccepting = Effect.gen(function*() {
      if (!accepting) return
      accepting = false
      server.close()
      const waiting = yield* Queue.takeAll(queue)
      for (const socket of waiting) socket.destroy()
      yield* Queue.shutdown(queue)
    })

    return {
      address: toAddress(server, options.host),
      accepted: Stream.fromQueue(queue),
      open,
      stopAccepting
    }
  })

const onSocketError = (): void => {}
