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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type * as Net from "node:net"
import { ConnectionError, type ConnectionFailure, type Handler } from "./Connection.js"
import * as Encoding from "./Encoding.js"
import * as Framing from "./Framing.js"
import * as HandlerModule from "./Handler.js"
import * as Admission from "./internal/admission.js"
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
  | Framing.UnsafeDelimiterError
  | Framing.FramingOptionError

/**
 * The settings that can come from configuration. Every field has a default: the tutorial's values for what
 * the tutorial has, and limits a server on a network needs for the rest.
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
  /** Connections open at once; one more is refused. Default 10,000. */
  readonly maxConnections?: number | undefined
  /** Connections open at once from one address; default unlimited. */
  readonly maxConnectionsPerIp?: number | undefined
  /** If not empty, only clients in these ranges (CIDR or single address, IPv4 or IPv6) are served. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Clients in these ranges are refused; wins over `allow`. */
  readonly deny?: ReadonlyArray<string> | undefined
  /** Text sent to a refused client before its connection is closed; default none. */
  readonly busyText?: string | undefined
  /** A connection with no input for this long is closed; default 5 minutes; 0 disables it. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** A connection open this long is closed; default unlimited. */
  readonly maxConnectionAge?: Duration.DurationInput | undefined
  /** Outgoing (and incoming) buffer of each connection, in bytes; default 64 KiB. */
  readonly highWaterMark?: number | undefined
  /** A connection whose full outgoing buffer the client does not read for this long is closed; default 30 s. */
  readonly writeTimeout?: Duration.DurationInput | undefined
  /** On shutdown, how long connections may finish what they are doing before they are closed; default 3 s. */
  readonly shutdownGrace?: Duration.DurationInput | undefined
  /** Text sent to each client when a shutdown closes its connection; default none. */
  readonly goodbye?: string | undefined
  /** How the input is cut into messages; default {@link Framing.chunk}: one message per read, as the tutorial. */
  readonly framing?: Framing.Framing | undefined
  /** Bytes invalid in the encoding: `replace` (U+FFFD, default) or `fatal` (a frame error). Counted either way. */
  readonly decodeErrors?: "replace" | "fatal" | undefined
  /** Line ending of replies in line framing, e.g. `"\r\n"`; default: the one the client used last. */
  readonly replyEnding?: string | undefined
  /** What the default handler answers: the reply text (default), the frame itself, or nothing. */
  readonly answer?: HandlerModule.Answer | undefined
  /** What the default handler logs of each frame: `text` (default), `hex` or `both`. */
  readonly display?: HandlerModule.Display | undefined
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
 * The default settings.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  host: "0.0.0.0",
  port: 9090,
  backlog: 128,
  encoding: "gbk",
  reply: HandlerModule.defaultReply,
  maxConnections: 10_000,
  idleTimeout: Duration.minutes(5),
  highWaterMark: 64 * 1024,
  writeTimeout: Duration.seconds(30),
  shutdownGrace: Duration.seconds(3)
} as const

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

const formatFailure = <E>(cause: Cause.Cause<E>): string => {
  const failure = Cause.squash(cause)
  return failure instanceof Error ? failure.message : String(failure)
}

const positiveDuration = (input: Duration.DurationInput | undefined): Duration.Duration | undefined => {
  if (input === undefined) return undefined
  const duration = Duration.decode(input)
  return Duration.isZero(duration) || !Duration.isFinite(duration) ? undefined : duration
}

const ranges = (option: string, values: ReadonlyArray<string> | undefined) => {
  if (values === undefined || values.length === 0) return Effect.succeed(undefined)
  const parsed = Admission.parseRanges(values)
  return parsed._tag === "Right" ? Effect.succeed(parsed.list) : Effect.fail(
    new TcpServerOptionError({
      option,
      value: parsed.invalid,
      expected: "an IPv4 or IPv6 address or CIDR range, such as 10.0.0.0/8, 192.168.1.7 or fd00::/8"
    })
  )
}

const positiveInteger = (option: string, value: number | undefined) =>
  value === undefined || (Number.isSafeInteger(value) && value > 0)
    ? Effect.succeed(value)
    : Effect.fail(new TcpServerOptionError({ option, value: String(value), expected: "a whole number above 0" }))

/**
 * Starts a server in the current scope. Every connection runs `handler` in a daemon fiber that the server
 * tracks. Closing the scope stops accepting at once, ends every connection's input so handlers can finish
 * and flush their replies, and after `shutdownGrace` interrupts the connections that remain; every client
 * socket is closed before the scope is.
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
  const encoding = yield* Encoding.validate(options.encoding ?? defaults.encoding)
  const framing = yield* Framing.validate(options.framing ?? Framing.chunk, encoding)
  const handler: Handler<E | ConnectionFailure, R> = options.handler ??
    HandlerModule.tutorial({ reply: options.reply, answer: options.answer, display: options.display })
  const maxConnections = (yield* positiveInteger("max connections", options.maxConnections)) ??
    defaults.maxConnections
  const maxConnectionsPerIp = yield* positiveInteger("max connections per IP", options.maxConnectionsPerIp)
  const highWaterMark = (yield* positiveInteger("high-water mark", options.highWaterMark)) ?? defaults.highWaterMark
  const allow = yield* ranges("allow range", options.allow)
  const deny = yield* ranges("deny range", options.deny)
  const maxAge = positiveDuration(options.maxConnectionAge)
  const shutdownGrace = Duration.decode(options.shutdownGrace ?? defaults.shutdownGrace)
  const counters: InternalConnection.Counters = { oversized: 0, decodeErrors: 0 }
  const settings: InternalConnection.Settings = {
    encoding,
    framing,
    frameErrors: framing._tag === "Chunk" ? "skip" : framing.onOversized,
    decodeErrors: options.decodeErrors ?? "replace",
    replyEnding: options.replyEnding === undefined ? undefined : Buffer.from(options.replyEnding, "latin1"),
    counters,
    idleTimeout: positiveDuration(options.idleTimeout ?? defaults.idleTimeout),
    writeTimeout: positiveDuration(options.writeTimeout) ?? defaults.writeTimeout,
    goodbye: options.goodbye === undefined ? undefined : Encoding.encode(options.goodbye, encoding)
  }
  const busy = options.busyText === undefined ? undefined : Encoding.encode(options.busyText, encoding)

  // What the server runs in the background (the accept loop, the connections, their log lines) is detached
  // from the span `make` runs in: the tracer logger records every log line as an event of the current span,
  // and that span would keep them all for as long as the server runs.
  const detached = Context.omit(Tracer.ParentSpan)
  const runtime = Runtime.updateContext(yield* Effect.runtime<never>(), detached)
  const runFork = Runtime.runFork(runtime)
  const shutdown = InternalConnection.makeShutdown()
  let accepted = 0
  let refused = 0
  let open = () => 0
  const admit = Admission.make({ maxConnections, maxConnectionsPerIp, allow, deny }, () => open())

  // Accept failures come in floods: log once a second at most, with how many there were.
  let acceptFailures = 0
  let lastAcceptLog = 0
  const acceptFailed = (what: string) => {
    acceptFailures++
    const now = Date.now()
    if (now - lastAcceptLog < 1000) return
    lastAcceptLog = now
    const count = acceptFailures
    acceptFailures = 0
    runFork(Effect.logError(`${what} (${count} in the last second)`))
  }
  const listener = yield* Listener.listen({
    host: options.host ?? defaults.host,
    port: options.port ?? defaults.port,
    backlog: options.backlog ?? defaults.backlog,
    highWaterMark,
    admit,
    refuse: (socket, reason) => {
      refused++
      const peer = InternalConnection.peerOf(socket)
      runFork(Effect.logWarning(`refused ${peer.remoteAddress}:${peer.remotePort}: ${reason}`))
      if (busy === undefined) socket.destroy()
      else socket.end(busy, () => socket.destroy())
    },
    onAcceptError: (error) => {
      const code = "code" in error && typeof error.code === "string" ? error.code : undefined
      acceptFailed(
        code === "EMFILE" || code === "ENFILE"
          ? `out of file descriptors (${code}): connections are refused until some close`
          : `accepting a connection failed: ${error.message}`
      )
    },
    onDescriptorsExhausted: (budget) => {
      refused++
      acceptFailed(
        `out of file descriptors (EMFILE): the descriptor limit allows ${budget} connections; ` +
          `new ones are refused until some close (raise it with ulimit -n)`
      )
    }
  })
  open = () => listener.open.size
  const fibers = yield* FiberSet.make<void, never>()
  if (settings.idleTimeout !== undefined) {
    yield* Effect.forkScoped(InternalConnection.idleSweeper(shutdown, Duration.toMillis(settings.idleTimeout)))
  }

  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      yield* listener.stopAccepting
      const connections = listener.open.size
      if (connections === 0) return
      yield* Effect.logInfo(`shutting down: closing ${connections} connections`)
      InternalConnection.startDraining(shutdown)
      // The wait runs in a fiber of its own: interruptible, so the timeout can end it, yet not cut short when
      // the shutdown itself comes from an interruption (Ctrl-C interrupts the main fiber).
      const finished = yield* FiberSet.awaitEmpty(fibers).pipe(
        Effect.timeout(shutdownGrace),
        Effect.interruptible,
        Effect.isSuccess,
        Effect.forkDaemon,
        Effect.flatMap(Fiber.join)
      )
      const remaining = yield* FiberSet.size(fibers)
      InternalConnection.forceClose(shutdown)
      yield* Effect.logInfo(
        finished
          ? `shutdown: ${connections} connections closed`
          : `shutdown: ${connections} connections closed, ${remaining} of them interrupted after the ${
            Duration.format(shutdownGrace)
          } grace period`
      )
    })
  )

  let lastId = 0
  const report = (id: number, peer: InternalConnection.Peer, exit: Exit.Exit<void, E | ConnectionFailure>) => {
    if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return Effect.void
    const what = `connection ${id} from ${peer.remoteAddress}:${peer.remotePort} failed`
    // A defect is a bug in a handler: log it with its stack. A typed failure is the client's doing.
    return Cause.isDie(exit.cause)
      ? Effect.logError(what, exit.cause)
      : Effect.logWarning(`${what}: ${formatFailure(exit.cause)}`)
  }
  // Runs in the connection's fiber, which starts uninterruptible: only the handler is interruptible, and the
  // scope is closed (the socket with it) however the handler ends.
  const serve = (socket: Net.Socket, scope: Scope.CloseableScope) => {
    const id = ++lastId
    accepted++
    const peer = InternalConnection.peerOf(socket)
    // The connection's scope becomes the fiber's `Scope` for the rest of its life: a plain update of its
    // context, cheaper than Effect.provideService's bracket (this fiber ends with the connection).
    return FiberRef.update(FiberRef.currentContext, Context.add(Scope.Scope, scope)).pipe(
      Effect.zipRight(InternalConnection.make(socket, id, peer, settings, shutdown, scope)),
      Effect.flatMap((connection) =>
        Effect.interruptible(
          maxAge === undefined ? handler(connection) : Effect.timeoutFail(handler(connection), {
            duration: maxAge,
            onTimeout: () => new ConnectionError({ reason: "MaxAge", cause: maxAge })
          })
        )
      ),
      Effect.exit,
      Effect.flatMap((exit) => Effect.zipRight(Scope.close(scope, exit), report(id, peer, exit)))
    )
  }

  // The accept loop's fiber passes its context and scheduler on to every connection fiber it forks.
  yield* FiberRef.update(FiberRef.currentContext, detached).pipe(
    Effect.zipRight(FiberRef.set(FiberRef.currentScheduler, InternalConnection.scheduler)),
    Effect.zipRight(listener.accepted.pipe(
      Stream.runForEach((socket) =>
        // Forking and tracking happen together, so no connection fiber escapes the set. The fiber starts
        // uninterruptible: only its handler can be interrupted, after the socket is in the connection's scope.
        Effect.flatMap(Scope.make(), (scope) =>
          Effect.forkDaemon(serve(socket, scope)).pipe(
            Effect.flatMap((fiber) => FiberSet.add(fibers, fiber))
          )).pipe(Effect.uninterruptible)
      )
    )),
    Effect.forkScoped
  )

  return TcpServer.of({
    address: listener.address,
    connections: Effect.sync(() => listener.open.size),
    stats: Effect.sync((): Stats => ({
      active: listener.open.size,
      accepted,
      refused,
      oversizedFrames: counters.oversized,
      decodeErrors: counters.decodeErrors
    }))
  })
})

/**
 * A layer that runs a server for as long as the layer is in use.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E = ConnectionFailure, R = never>(
  options?: Options<E, R>
): Layer.Layer<TcpServer, TcpServerError | TcpServerOptionError | StartError, R> =>
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
  R
> => Layer.scoped(TcpServer, Effect.flatMap(Config.unwrap(config), (options) => make<E, R>({ ...options, handler })))
