/**
 * The TCP server service: listens, accepts many clients at once and runs a handler for each in its own fiber.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import type { ConnectionError, Handler } from "./Connection.js"
import * as Encoding from "./Encoding.js"
import * as HandlerModule from "./Handler.js"
import * as InternalConnection from "./internal/connection.js"
import * as Listener from "./internal/listener.js"

/**
 * The address the server is bound to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
  readonly family: "IPv4" | "IPv6"
}

/**
 * A running server.
 *
 * @since 0.1.0
 * @category tags
 */
export class TcpServer extends Context.Tag("effect-tcp-server/TcpServer")<TcpServer, {
  /** The address actually bound: with port 0, the ephemeral port the system chose. */
  readonly address: Address
  /** How many client connections are open right now. */
  readonly connections: Effect.Effect<number>
}>() {}

/**
 * The server could not start listening.
 *
 * @since 0.1.0
 * @category errors
 */
export class TcpServerError extends Data.TaggedError("TcpServerError")<{
  readonly reason: "AddressInUse" | "PermissionDenied" | "AddressNotAvailable" | "Listen"
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const where = `${this.host}:${this.port}`
    switch (this.reason) {
      case "AddressInUse":
        return `port ${this.port} on ${this.host} is already in use: stop the program using it or choose another port`
      case "PermissionDenied":
        return `permission denied to listen on ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port of 1024 or more`
      case "AddressNotAvailable":
        return `cannot listen on ${where}: "${this.host}" is not an address of this machine (use 0.0.0.0 for all IPv4 interfaces, :: for all interfaces)`
      case "Listen":
        return `cannot listen on ${where}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
    }
  }
}

/**
 * The settings that can come from configuration. Every field has the tutorial's value as default.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  /** Address to bind; default `0.0.0.0` (every IPv4 interface). Use `::` for every interface. */
  readonly host?: string | undefined
  /** Port to bind; default 9090. 0 picks a free ephemeral port. */
  readonly port?: number | undefined
  /** Length of the queue of connections the kernel accepts before the server takes them; default 128. */
  readonly backlog?: number | undefined
  /** Encoding of client text, any iconv-lite encoding; default `gbk`. */
  readonly encoding?: string | undefined
  /** The reply of the default handler; default `ok，问题正在处理中...`. */
  readonly reply?: string | undefined
}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, R = never> extends ServeOptions {
  /** What to run for each connection; default {@link HandlerModule.tutorial} with `reply`. */
  readonly handler?: Handler<E, R> | undefined
}

/**
 * The tutorial's settings.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  host: "0.0.0.0",
  port: 9090,
  backlog: 128,
  encoding: "gbk",
  reply: HandlerModule.defaultReply
} as const satisfies Required<ServeOptions>

const formatFailure = <E>(cause: Cause.Cause<E>): string => {
  const failure = Cause.squash(cause)
  return failure instanceof Error ? failure.message : String(failure)
}

/**
 * Starts a server in the current scope. Every connection runs `handler` in a daemon fiber that the server
 * tracks: closing the scope stops accepting, interrupts every connection fiber, destroys every client socket
 * and waits for the listening socket to close.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <E = ConnectionError, R = never>(
  options?: Options<E, R>
) => Effect.Effect<TcpServer["Type"], TcpServerError | Encoding.UnknownEncodingError, Scope.Scope | R> = Effect.fn(
  "TcpServer.make"
)(function*<E, R>(options: Options<E, R> = {}) {
  const encoding = yield* Encoding.validate(options.encoding ?? defaults.encoding)
  const handler: Handler<E | ConnectionError, R> = options.handler ??
    HandlerModule.tutorial(options.reply ?? defaults.reply)
  const listener = yield* Listener.listen({
    host: options.host ?? defaults.host,
    port: options.port ?? defaults.port,
    backlog: options.backlog ?? defaults.backlog
  })
  const fibers = yield* FiberSet.make<void, never>()
  yield* Effect.addFinalizer(() => listener.stopAccepting)

  let lastId = 0
  const serve = (socket: Net.Socket) => {
    const id = ++lastId
    const peer = InternalConnection.peerOf(socket)
    return InternalConnection.make(socket, id, peer, encoding).pipe(
      Effect.flatMap(handler),
      Effect.scoped,
      Effect.catchAllCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.void
        const what = `connection ${id} from ${peer.remoteAddress}:${peer.remotePort} failed`
        // A defect is a bug in a handler: log it with its stack. A typed failure is the client's doing.
        return Cause.isDie(cause)
          ? Effect.logError(what, cause)
          : Effect.logWarning(`${what}: ${formatFailure(cause)}`)
      })
    )
  }

  yield* listener.accepted.pipe(
    Stream.runForEach((socket) =>
      // Forking and tracking happen together, so no connection fiber escapes the set; the fiber itself is
      // interruptible, so closing the set ends it.
      Effect.forkDaemon(Effect.interruptible(serve(socket))).pipe(
        Effect.flatMap((fiber) => FiberSet.add(fibers, fiber)),
        Effect.uninterruptible
      )
    ),
    Effect.forkScoped
  )

  return TcpServer.of({
    address: listener.address,
    connections: Effect.sync(() => listener.open.size)
  })
})

/**
 * A layer that runs a server for as long as the layer is in use.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E = ConnectionError, R = never>(
  options?: Options<E, R>
): Layer.Layer<TcpServer, TcpServerError | Encoding.UnknownEncodingError, R> => Layer.scoped(TcpServer, make(options))

/**
 * Like {@link layer}, with the settings read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = <E = ConnectionError, R = never>(
  config: Config.Config.Wrap<ServeOptions>,
  handler?: Handler<E, R>
): Layer.Layer<TcpServer, TcpServerError | Encoding.UnknownEncodingError | ConfigError.ConfigError, R> =>
  Layer.scoped(TcpServer, Effect.flatMap(Config.unwrap(config), (options) => make<E, R>({ ...options, handler })))
