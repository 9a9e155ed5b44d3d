/**
 * The TCP server service: listens, accepts many clients at once and runs a handler for each in its own fiber.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ConnectionFailure, Handler } from "./Connection.js"
import * as Encoding from "./Encoding.js"
import * as Framing from "./Framing.js"
import * as InternalOptions from "./internal/options.js"
import * as Server from "./internal/server.js"
import * as Readiness from "./Readiness.js"
import * as TestClient from "./TestClient.js"

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
  readonly stats: Effect.Effect<Stats>
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
 * An option has a value the server cannot use.
 *
 * @since 0.1.0
 * @category errors
 */
export class TcpServerOptionError extends Data.TaggedError("TcpServerOptionError")<{
  readonly option: string
  readonly value: string
  readonly expected: string
}> {
  override get message(): string {
    return `invalid ${this.option} "${this.value}": expected ${this.expected}`
  }
}

/**
 * Failures of the encoding and framing settings, found at start.
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError =
  | Encoding.UnknownEncodingError
  | Encoding.UnencodableTextError
  | Framing.UnsafeDelimiterError
  | Framing.FramingOptionError

/**
 * The settings of a server, all of which can come from configuration. Every field has a default: the
 * tutorial's values for what the tutorial has, and limits a server on a network needs for the rest. Durations
 * are Effect `Duration` inputs (`"30 seconds"`, a number of milliseconds, …): 0 turns a limit off, and a
 * negative or non-finite duration is an error.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  /** Address to bind; default `0.0.0.0` (every IPv4 interface). Use `::` for every interface. */
  readonly host?: string | undefined
  /** Port to bind; default 9090. 0 picks a free ephemeral port. */
  readonly port?: number | undefined
  /**
   * Length of the queue of connections the kernel accepts before the server takes them; default the system's
   * maximum (`/proc/sys/net/core/somaxconn`, 511 where it cannot be read), so that bursts of clients are not
   * dropped.
   */
  readonly backlog?: number | undefined
  /** Encoding of client text, any iconv-lite encoding; default `gbk`. */
  readonly encoding?: string | undefined
  /** Connections open at once; one more is refused. Default 10,000. */
  readonly maxConnections?: number | undefined
  /** Connections open at once from one address; default unlimited. */
  readonly maxConnectionsPerIp?: number | undefined
  /**
   * If set, only clients in these ranges (CIDR or single address, IPv4 or IPv6) are served. A list with no
   * range in it is an error: it would serve everyone, or no one.
   */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Clients in these ranges are refused; wins over `allow`. */
  readonly deny?: ReadonlyArray<string> | undefined
  /** Text sent (framed, in the encoding) to a refused client before its connection is closed; default none. */
  readonly busyText?: string | undefined
  /** A connection with no input for this long is closed; default 5 minutes; 0 turns it off. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** A connection open this long is closed; default unlimited (0). */
  readonly maxConnectionAge?: Duration.DurationInput | undefined
  /** Outgoing (and incoming) buffer of each connection, in bytes; default 64 KiB. */
  readonly highWaterMark?: number | undefined
  /**
   * A connection whose full outgoing buffer the client does not read for this long is closed; default 30 s;
   * 0 turns it off. It also bounds how long a graceful close waits for the client.
   */
  readonly writeTimeout?: Duration.DurationInput | undefined
  /** On shutdown, how long connections may finish what they are doing before they are closed; default 3 s. */
  readonly shutdownGrace?: Duration.DurationInput | undefined
  /** Text sent (framed, in the encoding) to each client when a shutdown closes its connection; default none. */
  readonly goodbye?: string | undefined
  /** How the input is cut into messages; default {@link Framing.chunk}: one message per read, as the tutorial. */
  readonly framing?: Framing.Framing | undefined
  /** Bytes invalid in the encoding: `replace` (U+FFFD, default) or `fatal` (a frame error). Counted either way. */
  readonly decodeErrors?: "replace" | "fatal" | undefined
  /** Line ending of replies in line framing, e.g. `"\r\n"`; default: the one the client used last. */
  readonly replyEnding?: string | undefined
}

/**
 * Options of {@link make} and {@link layer}: the settings and the handler.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, R = never> extends ServeOptions {
  /**
   * What to run for each connection; default `Handler.tutorial()`, the tutorial's behaviour. It may
   * use `Scope`: the connection's own, closed when the client leaves.
   */
  readonly handler?: Handler<E, R> | undefined
}

/**
 * The default settings.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = InternalOptions.defaults

/**
 * What the server has done so far.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Connections open now. */
  readonly active: number
  /** Connections accepted since start. */
  readonly accepted: number
  /** Connections refused since start (limits, allow and deny lists, descriptor limit). */
  readonly refused: number
  /** Frames longer than the maximum frame size, since start. */
  readonly oversizedFrames: number
  /** Frames (reads, in chunk framing) with bytes invalid in the encoding, since start. */
  readonly decodeErrors: number
}

/**
 * Starts a server in the current scope. Every connection runs `handler` in a daemon fiber that the server
 * tracks, with the connection's own `Scope`. Closing the scope stops accepting at once, ends every
 * connection's input so handlers can finish and flush their replies, closes the connections gracefully (the
 * goodbye text, then FIN, reading until the client's FIN), and after `shutdownGrace` interrupts the
 * connections that remain; every client socket is closed before the scope is.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <E = ConnectionFailure, R = never>(
  options?: Options<E, R>
) => Effect.Effect<
  TcpServer["Type"],
  TcpServerError | TcpServerOptionError | StartError,
  Scope.Scope | R
> = Effect.fn("TcpServer.make")(function*<E, R>(options: Options<E, R> = {}) {
  const resolved = yield* InternalOptions.resolve(options).pipe(
    Effect.mapError((error) => error._tag === "OptionProblem" ? new TcpServerOptionError(error) : error)
  )
  const running = yield* Server.make({ ...resolved, readiness: yield* Effect.serviceOption(Readiness.Readiness) }).pipe(
    Effect.mapError((failure) => listenError(resolved.listen.host, resolved.listen.port, failure.cause))
  )
  return TcpServer.of({
    address: running.address,
    connections: Effect.sync(() => running.counts().active),
    stats: Effect.sync(running.counts)
  })
})

const listenError = (host: string, port: number, cause: unknown): TcpServerError => {
  const code = cause instanceof Error && "code" in cause ? cause.code : undefined
  const reason = code === "EADDRINUSE"
    ? "AddressInUse"
    : code === "EACCES" || code === "EPERM"
    ? "PermissionDenied"
    : code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME"
    ? "AddressNotAvailable"
    : "Listen"
  return new TcpServerError({ reason, host, port, cause })
}

/**
 * A layer that runs a server for as long as the layer is in use.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E = ConnectionFailure, R = never>(
  options?: Options<E, R>
): Layer.Layer<TcpServer, TcpServerError | TcpServerOptionError | StartError, Exclude<R, Scope.Scope>> =>
  Layer.scoped(TcpServer, make(options))

/**
 * Like {@link layer}, with the settings read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = <E = ConnectionFailure, R = never>(
  config: Config.Config.Wrap<ServeOptions>,
  handler?: Handler<E, R>
): Layer.Layer<
  TcpServer,
  TcpServerError | TcpServerOptionError | StartError | ConfigError.ConfigError,
  Exclude<R, Scope.Scope>
> => Layer.scoped(TcpServer, Effect.flatMap(Config.unwrap(config), (options) => make<E, R>({ ...options, handler })))

/**
 * For tests: a server on a free port of 127.0.0.1 (the options may change everything else), and a
 * {@link TestClient.TestClient} that connects to it, as `NodeHttpServer.layerTest` provides an `HttpClient`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = <E = ConnectionFailure, R = never>(
  options?: Options<E, R>
): Layer.Layer<
  TcpServer | TestClient.TestClient,
  TcpServerError | TcpServerOptionError | StartError,
  Exclude<R, Scope.Scope>
> =>
  Layer.effect(
    TestClient.TestClient,
    Effect.map(TcpServer, (server) => TestClient.make(server.address.port, server.address.host))
  ).pipe(Layer.provideMerge(layer({ ...options, host: "127.0.0.1", port: 0 })))
