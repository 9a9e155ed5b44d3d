import { Chunk, Clock, Duration, Effect, Exit, Scope, TestClock } from "effect"
import Iconv from "iconv-lite"
import { type Connection, Handler, TcpServer } from "../../src/index.js"
import { makeLogCapture } from "./Client.js"

export const gbk = (text: string) => Iconv.encode(text, "gbk")
export const replyBytes = gbk(Handler.defaultReply)

/** Concatenates byte arrays and Latin-1 strings (ASCII control bytes written as text). */
export const bytes = (...parts: Array<string | Uint8Array>) =>
  Buffer.concat(parts.map((part) => typeof part === "string" ? Buffer.from(part, "latin1") : part))

/**
 * Real time: only to let the kernel deliver or buffer bytes, never to wait for the server's own timers. Left for
 * test/bin.test.ts, its last user: remove it with that use.
 */
export const realPause = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

/**
 * Real time, for what no event announces: the kernel filling the TCP buffers of a client that does not read (or
 * of a server that does not), paced by TCP's own timers (delayed ACKs, window probes). Samples `value` every
 * `quietMillis` and returns it once it has not changed for `quietMillis`; fails after `maxMillis`.
 */
export const settled = <A>(value: () => A, quietMillis = 200, maxMillis = 10_000): Effect.Effect<A> =>
  Effect.suspend(() => {
    const deadline = Date.now() + maxMillis
    const loop = (before: A): Effect.Effect<A> =>
      Effect.flatMap(Effect.promise(() => new Promise((resolve) => setTimeout(resolve, quietMillis))), () => {
        const now = value()
        if (now === before) return Effect.succeed(now)
        if (Date.now() > deadline) return Effect.dieMessage(`still changing after ${maxMillis} ms: ${String(now)}`)
        return loop(now)
      })
    return loop(value())
  })

/**
 * Runs `check` after each turn of the event loop (`setImmediate`: timers, I/O and close callbacks run in between)
 * until it holds, for what happens a turn or two after an event the test can wait on, e.g. a socket's `close`
 * after its handler has logged its end. No time is waited for: the bound (`maxMillis` of turns) only turns a
 * hang into a failure.
 */
export const withinTurns = (check: Effect.Effect<boolean>, maxMillis = 2000): Effect.Effect<void> => {
  const turn = Effect.async<void>((resume) => {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  })
  return Effect.suspend(() => {
    const deadline = Date.now() + maxMillis
    let turns = 0
    const loop: Effect.Effect<void> = Effect.flatMap(check, (ok) => {
      if (ok) return Effect.void
      if (Date.now() > deadline) return Effect.dieMessage(`still not so after ${turns} turns of the event loop`)
      turns++
      return Effect.zipRight(turn, loop)
    })
    return loop
  })
}

/**
 * Whether one of the server's timers, started at the test clock's current time, waits for `duration` (e.g. the
 * write timeout of a writer waiting for its socket to drain, or the shutdown's grace period).
 */
export const timerArmed = (duration: Duration.DurationInput): Effect.Effect<boolean> =>
  Effect.zipWith(
    TestClock.sleeps(),
    Clock.currentTimeMillis,
    (sleeps, now) => Chunk.some(sleeps, (wakeAt) => wakeAt === now + Duration.toMillis(duration))
  )

/** The captured log lines of a server started by {@link startServer}. */
export type Logs = Effect.Effect.Success<typeof makeLogCapture>

/** Waits, event-driven, until `count` logged lines match `predicate`; succeeds with them. */
export const waitForLines = (
  logs: Logs,
  predicate: (line: string) => boolean,
  count: number
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.suspend(() => {
    // Counts each line once, however often `waitFor` scans them again.
    const matching: Array<string> = []
    let scanned = 0
    const enough = () => {
      for (; scanned < logs.lines.length; scanned++) {
        const line = logs.lines[scanned]
        if (line !== undefined && predicate(line)) matching.push(line)
      }
      return matching.length >= count
    }
    return Effect.as(logs.waitFor(enough), matching)
  })

/**
 * Starts a server on 127.0.0.1, port 0, in a scope of its own (closed with the test's scope, or earlier by
 * `close`), with its log lines captured.
 */
export const startServer = <E = Connection.ConnectionFailure, R = never>(options: TcpServer.Options<E, R> = {}) =>
  Effect.gen(function*() {
    const logs = yield* makeLogCapture
    const scope = yield* Scope.make()
    const server = yield* TcpServer.make({ host: "127.0.0.1", port: 0, ...options }).pipe(
      Effect.provide(logs.layer),
      Scope.extend(scope)
    )
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { server, port: server.address.port, logs, close: Scope.close(scope, Exit.void) }
  })
