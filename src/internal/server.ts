import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type * as Net from "node:net"
import { ConnectionError, type Handler } from "../Connection.js"
import * as Framing from "../Framing.js"
import * as Metrics from "../Metrics.js"
import type * as Readiness from "../Readiness.js"
import * as Admission from "./admission.js"
import * as Connection from "./connection.js"
import * as ConnectionSpan from "./connectionSpan.js"
import * as Listener from "./listener.js"
import * as Registry from "./registry.js"
import * as Writer from "./writer.js"

/**
 * Everything a server runs with, checked.
 *
 * @internal
 */
export interface Options<E, R> {
  readonly listen: Omit<Listener.ListenOptions, "onAcceptError" | "onDescriptorsExhausted">
  readonly admission: Admission.AdmissionOptions
  readonly connection: Connection.Settings
  /** Sent, framed, to a refused client before its connection is closed. */
  readonly busy: Uint8Array | undefined
  readonly maxAge: Duration.Duration | undefined
  readonly shutdownGrace: Duration.Duration
  readonly handler: Handler<E, R>
  /** Set once listening, cleared when a shutdown starts. */
  readonly readiness: Option.Option<Readiness.Readiness["Type"]>
}

/** @internal */
export interface Counts {
  readonly active: number
  readonly accepted: number
  readonly refused: number
  readonly oversizedFrames: number
  readonly decodeErrors: number
}

/** @internal */
export interface Running {
  readonly address: Listener.Address
  readonly counts: () => Counts
}

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`

const formatFailure = <E>(cause: Cause.Cause<E>): string => {
  const failure = Cause.squash(cause)
  return failure instanceof Error ? failure.message : String(failure)
}

const report = <E>(id: number, peer: Connection.Peer, exit: Exit.Exit<void, E>): Effect.Effect<void> => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return Effect.void
  const label = `connection ${id} from ${Connection.formatPeer(peer)}`
  // A defect is a bug in a handler: log it with its stack. A typed failure is the client's doing.
  if (Cause.isDie(exit.cause)) {
    Metrics.unsafeIncrement(Metrics.handlerDefects)
    return Effect.annotateLogs(
      Effect.logError(`${label} failed`, exit.cause),
      Connection.annotations(id, peer, "failed")
    )
  }
  Metrics.unsafeIncrement(Metrics.handlerFailures)
  const reason = Connection.closeReason(exit, false)
  const event = reason === "idle" || reason === "write_timeout" || reason === "max_age" ? "timeout" : "failed"
  return Effect.annotateLogs(
    Effect.logWarning(`${label} failed: ${formatFailure(exit.cause)}`),
    Connection.annotations(id, peer, event)
  )
}

const refusedAs = (reason: Admission.Refusal["reason"]): Metrics.RefuseReason =>
  reason === "limit" || reason === "per_ip" ? reason : "deny"

/**
 * Logs a flood of failures at most once a second, each line with how many there were since the last: the first
 * at once, then one line a second while they go on, and a last one with the count of the last second.
 */
const throttled = (run: (effect: Effect.Effect<void>) => unknown) => {
  let count = 0
  let message = ""
  let running = false
  const loop: Effect.Effect<void> = Effect.suspend(() => {
    if (count === 0) {
      running = false
      return Effect.void
    }
    const line = `${message} (${count} in the last second)`
    count = 0
    return Effect.logError(line).pipe(Effect.zipRight(Effect.sleep(Duration.seconds(1))), Effect.zipRight(loop))
  })
  return (what: string) => {
    count++
    message = what
    if (!running) {
      running = true
      run(loop)
    }
  }
}

/**
 * Makes `scope` the `Scope` of the calling fiber's context for the rest of its life, which is how a handler's
 * `Effect.addFinalizer`/`acquireRelease` release when its client leaves. The run loop's one runtime device: a
 * plain update of the fiber's context, where `Effect.provideService` sets it in a bracket that restores it at the
 * end. A connection's fiber ends with its connection, so there is nothing to restore, and the bracket
 * (`acquireUseRelease`) costs about 12 µs of every connection against 2 (forking 40,000 fibers each way from a
 * `FiberSet`, BENCHMARKS.md). Setting the accept loop's context around the fork instead measured slower under
 * churn with logging (2,983 against 3,232 cycles/s in the same run).
 */
const withScope = (scope: Scope.Scope): Effect.Effect<void> =>
  FiberRef.update(FiberRef.currentContext, Context.add(Scope.Scope, scope))

/**
 * The run loop of a server: the listener's accepted sockets, as a `Stream`, go through admission; each admitted
 * one runs the handler in a daemon fiber of the server's `FiberSet`, with a `Scope` of its own that closes the
 * socket. Closing the scope runs the shutdown sequence (see the finalizer below).
 *
 * @internal
 */
export const make = <E, R>(
  options: Options<E, R>
): Effect.Effect<Running, Listener.ListenFailure, Scope.Scope | R> =>
  // The server's fibers (the accept loop, the connections, background log lines) run without the span the server
  // was started in: Effect's tracer logger would record every log line of every connection in that long-lived span.
  Effect.locallyWith(FiberRef.currentContext, Context.omit(Tracer.ParentSpan))(Effect.gen(function*() {
    const settings = options.connection
    const registry = Registry.make()
    const admit = Admission.make(options.admission, () => registry.open.size)
    const fibers = yield* FiberSet.make<void, never>()
    // Background fibers (log lines of accept errors) run without the span the server was started in.
    const runBackground = yield* FiberSet.makeRuntime<never, void, never>()
    const acceptFailed = throttled((effect) => runBackground(effect))
    let accepted = 0
    let refused = 0
    const closeTimeoutMillis = settings.closeTimeoutMillis

    const listener = yield* Listener.listen({
      ...options.listen,
      onAcceptError: (error) => {
        Metrics.unsafeIncrement(Metrics.acceptErrors)
        const code = "code" in error && typeof error.code === "string" ? error.code : undefined
        acceptFailed(
          code === "EMFILE" || code === "ENFILE"
            ? `out of file descriptors (${code}): connections are refused until some close`
            : `accepting a connection failed: ${error.message}`
        )
      },
      onDescriptorsExhausted: (budget) => {
        refused++
        Metrics.unsafeRefused("descriptors")
        acceptFailed(
          `out of file descriptors (EMFILE): the descriptor limit allows ${budget} connections; ` +
            `new ones are refused until some close (raise it with ulimit -n)`
        )
      }
    })

    // Texts sent by the server itself are framed as replies are, with the configured line ending or LF.
    const framed = (bytes: Uint8Array | undefined) =>
      bytes === undefined ? undefined : Either.getOrUndefined(
        Framing.encodeFrame(settings.framing, bytes, settings.replyEnding ?? new Uint8Array([0x0a]))
      )
    const busy = framed(options.busy)
    const goodbye = framed(settings.goodbye)

    /** Admission of an accepted socket: undefined when it is refused (and then closed). */
    const admitted = (accepted: Listener.Accepted): Effect.Effect<Connection.Peer | undefined> => {
      const { peer, socket } = accepted
      const refusal = admit(socket, peer?.remoteAddress)
      if (refusal === undefined) return Effect.succeed(peer ?? { remoteAddress: "unknown", remotePort: 0 })
      refused++
      Metrics.unsafeRefused(refusedAs(refusal.reason))
      if (busy === undefined) socket.destroy()
      else Writer.gracefully(socket, registry, busy, closeTimeoutMillis)
      const who = peer === undefined ? "a client" : Connection.formatPeer(peer)
      return Effect.logWarning(`refused ${who}: ${refusal.message}`).pipe(
        Effect.annotateLogs({ event: "refused", remote_address: peer?.remoteAddress, remote_port: peer?.remotePort }),
        Effect.as(undefined)
      )
    }

    const handler = options.handler
    const maxAge = options.maxAge
    const run = (connection: Connection.Connection): Effect.Effect<void, E | ConnectionError, R> =>
      maxAge === undefined ? handler(connection) : Effect.timeoutFail(handler(connection), {
        duration: maxAge,
        onTimeout: () => new ConnectionError({ reason: "MaxAge", timeout: maxAge })
      })

    // A span per connection only when an application has installed a tracer (an exporter): with Effect's default
    // tracer the spans would go nowhere, and cost every connection.
    const clock = yield* Effect.clock
    const tracer = yield* Effect.tracer
    const tracing = (yield* FiberRef.get(FiberRef.currentTracerEnabled)) &&
      tracer !== Context.get(DefaultServices.liveServices, Tracer.Tracer)
    const serve = (
      socket: Net.Socket,
      peer: Connection.Peer,
      id: number,
      scope: Scope.CloseableScope
    ): Effect.Effect<void, never, R> => {
      return tracing
        ? ConnectionSpan.withConnectionSpan({ id, ...peer })(
          Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
            serveWith(socket, peer, id, scope, Option.getOrUndefined(span)))
        )
        : serveWith(socket, peer, id, scope, undefined)
    }
    // The connection's fiber starts uninterruptible (it is forked by the uninterruptible accept loop): only the
    // handler can be interrupted, after the socket is in the connection's scope; the scope is closed (the socket
    // with it) however the handler ends.
    const serveWith = (
      socket: Net.Socket,
      peer: Connection.Peer,
      id: number,
      scope: Scope.CloseableScope,
      span: Tracer.Span | undefined
    ): Effect.Effect<void, never, R> =>
      // Built inside `suspend`: the frames of a waiting fiber reference what they were built from, and the
      // setup (the scope in the context, the connection) is then not kept for as long as the client is connected.
      Effect.suspend(() =>
        Effect.zipRight(withScope(scope), Connection.make({ socket, id, peer, settings, registry, clock, span }, scope))
          .pipe(Effect.flatMap((connection) =>
            Effect.interruptible(run(connection))
          ))
      ).pipe(
        Effect.exit,
        Effect.flatMap((exit) => Effect.zipRight(Scope.close(scope, exit), report(id, peer, exit)))
      )

    // Each admitted socket gets a scope, which becomes the `Scope` of its fiber (see withScope).
    const acceptLoop = Stream.runForEach(listener.accepted, (socket) =>
      Effect.flatMap(admitted(socket), (peer) => {
        if (peer === undefined) {
          return Effect.void
        }
        Registry.add(registry, socket.socket)
        const id = ++accepted
        return Effect.flatMap(Scope.make(), (scope) => FiberSet.run(fibers, serve(socket.socket, peer, id, scope)))
      })).pipe(
        Effect.uninterruptible
      )
    yield* Effect.forkScoped(acceptLoop)
    if (Option.isSome(options.readiness)) {
      yield* options.readiness.value.setReady(true)
    }
    if (settings.idleTimeout !== undefined) {
      yield* Effect.forkScoped(Registry.idleSweeper(registry, Duration.toMillis(settings.idleTimeout)))
    }

    // The shutdown sequence, in one place. Registered last, so it runs first when the scope closes.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // 0. Not ready any more (the metrics server's /readyz answers 503 from now on).
        if (Option.isSome(options.readiness)) {
          yield* options.readiness.value.setReady(false)
        }
        // 1. Stop accepting. Sockets accepted but not yet served get the goodbye text and a graceful close.
        for (const { peer, socket } of yield* listener.stopAccepting) {
          if (admit(socket, peer?.remoteAddress) === undefined) {
            Writer.gracefully(socket, registry, goodbye, closeTimeoutMillis)
          } else socket.destroy()
        }
        const connections = registry.open.size
        if (connections > 0) {
          yield* Effect.logInfo(`shutting down: closing ${plural(connections, "connection", "connections")}`).pipe(
            Effect.annotateLogs("event", "shutdown")
          )
        }
        // 2. End every connection's input: handlers finish the frame at hand, flush their replies and end.
        Registry.startDraining(registry)
        // 3. Wait for the connections and the graceful closes, for the grace period. The wait runs in a fiber of
        // its own: interruptible, so the timeout can end it, yet not cut short when the shutdown itself comes from
        // an interruption (Ctrl-C interrupts the main fiber).
        const finished = yield* Effect.zipRight(FiberSet.awaitEmpty(fibers), Registry.awaitSettled(registry)).pipe(
          Effect.timeout(options.shutdownGrace),
          Effect.interruptible,
          Effect.isSuccess,
          Effect.forkDaemon,
          Effect.flatMap(Fiber.join)
        )
        const remaining = yield* FiberSet.size(fibers)
        // 4. Every socket still open or closing is destroyed, and what remains is interrupted.
        Registry.forceClose(registry)
        yield* FiberSet.clear(fibers)
        if (connections > 0) {
          yield* Effect.annotateLogs(
            Effect.logInfo(
              finished
                ? `shutdown: ${plural(connections, "connection", "connections")} closed`
                : `shutdown: ${plural(connections, "connection", "connections")} closed, ${remaining} of them ` +
                  `interrupted after the ${Duration.format(options.shutdownGrace)} grace period`
            ),
            "event",
            "shutdown"
          )
        }
        // 5. Every socket is closed (destroyed sockets report it in a later turn); then the listening socket.
        yield* Registry.awaitSettled(registry)
        yield* listener.close
      })
    )

    return {
      address: listener.address,
      counts: (): Counts => ({
        active: registry.open.size,
        accepted,
        refused,
        oversizedFrames: settings.counters.oversized,
        decodeErrors: settings.counters.decodeErrors
      })
    }
  }))
