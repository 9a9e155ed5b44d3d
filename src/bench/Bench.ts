/**
 * A load generator for request/reply TCP servers such as this one, in the spirit of `redis-benchmark`: many
 * client connections send a message and check that the expected reply comes back, byte for byte.
 *
 * Not part of the library's API: it imports nothing of the server, and the CLI loads it only when `bench` runs.
 *
 * The hot path is plain `node:net` callbacks reading into one shared buffer, so a round trip costs the generator
 * about what it costs a minimal `node:net` server; Effect runs the phases, the progress reports and the teardown:
 * every socket opened is closed when the run ends, fails or is interrupted.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Engine from "./Engine.js"
import * as Histogram from "./Histogram.js"

/**
 * - `pingpong`: every connection sends the message, waits for the whole reply, and again, until the time is up.
 * - `churn`: every worker connects, makes one round trip and closes, again and again, until the time is up.
 * - `hold`: opens every connection, keeps them idle for `holdWait`, then makes one round trip on each.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = Engine.Mode

/**
 * What to run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly host: string
  readonly port: number
  readonly mode: Mode
  /** Connections (pingpong, hold) or workers (churn). */
  readonly connections: number
  /** How long pingpong and churn run; in hold mode, the most the opening of the connections may take. */
  readonly duration: Duration.DurationInput
  /**
   * Pingpong and churn: how long the load runs before anything is counted (connections opened, code warmed up,
   * other generators started). Ignored in hold mode. Default 0.
   */
  readonly warmup?: Duration.DurationInput | undefined
  /** The bytes sent for every round trip. */
  readonly message: Uint8Array
  /** The reply expected for every message; any other byte counts as an error. */
  readonly expect: Uint8Array
  /** Hold mode: how long the connections stay idle before their round trip. Default 2 seconds. */
  readonly holdWait?: Duration.DurationInput | undefined
  /** A connect or a round trip taking longer counts as an error and the connection is replaced. Default 10 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Hold mode: how many connects may be in progress at once. Default 100. */
  readonly connectWindow?: number | undefined
  /** Called about once a second while the run lasts. */
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
}

/**
 * A live view of a run, as given to {@link Options.onProgress}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly elapsedSec: number
  readonly replies: number
  /** Replies per second since the previous report. */
  readonly rate: number
  readonly errors: number
  /** Sockets open or connecting right now. */
  readonly open: number
}

/**
 * Latency percentiles in milliseconds: of the round trip (pingpong, hold) or of the whole cycle, connect
 * included (churn). All zero when nothing was measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface Latency {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly "p99.9": number
  readonly max: number
  readonly mean: number
}

/**
 * The outcome of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly mode: Mode
  readonly host: string
  readonly port: number
  readonly connections: number
  /** Seconds measured: the load phase after the warm-up for pingpong and churn, the whole run for hold. */
  readonly durationSec: number
  /** Correct replies received. */
  readonly replies: number
  /** Replies per second of the load phase (hold: of the round-trip phase). */
  readonly perSec: number
  readonly latencyMs: Latency
  /** Failed connects, resets, closes, wrong or unexpected bytes and timeouts. */
  readonly errors: number
  /** The errors by kind: an error code such as `ECONNREFUSED`, or `mismatch`, `unexpected`, `closed`, `timeout`. */
  readonly errorKinds: Readonly<Record<string, number>>
  /** Round trips (pingpong), cycles (churn) or connections that got their reply (hold). */
  readonly completed: number
  /** Connections that were established. */
  readonly opened: number
  /** Hold mode: seconds until every connection was open (or the opening phase ended); 0 in the other modes. */
  readonly openSec: number
}

/**
 * An option of a run is out of range.
 *
 * @since 0.1.0
 * @category errors
 */
export class BenchOptionError extends Data.TaggedError("BenchOptionError")<{
  readonly option: string
  readonly value: string
  readonly expected: string
}> {
  override get message(): string {
    return `invalid --${this.option} ${this.value}: expected ${this.expected}`
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------------------------------------------

const startPingpong = (engine: Engine.Engine): void => {
  const handlers: Engine.Handlers = {
    ready: (session) => session.send(),
    reply: (session, micros) => {
      engine.histogram.record(micros)
      engine.completed++
      session.send()
    },
    failed: (_, connected) => engine.later(connected ? 0 : Engine.retryDelayMs, () => engine.open(handlers))
  }
  for (let i = 0; i < engine.options.connections; i++) engine.open(handlers)
}

const startChurn = (engine: Engine.Engine): void => {
  const handlers: Engine.Handlers = {
    ready: (session) => session.send(),
    reply: (session) => {
      engine.histogram.record((performance.now() - session.openedAt) * 1000)
      session.close()
      engine.completed++
      engine.open(handlers)
    },
    failed: (_, connected) => engine.later(connected ? 0 : Engine.retryDelayMs, () => engine.open(handlers))
  }
  for (let i = 0; i < engine.options.connections; i++) engine.open(handlers)
}

const timed = (engine: Engine.Engine, start: (engine: Engine.Engine) => void) =>
  Effect.gen(function*() {
    engine.begin()
    start(engine)
    if (engine.options.warmupMs > 0) {
      yield* Effect.sleep(Duration.millis(engine.options.warmupMs))
      engine.restart()
    }
    yield* Effect.sleep(Duration.millis(engine.options.durationMs))
    yield* Engine.drain(engine)
    return (engine.stoppedAt - engine.startedAt) / 1000
  })

const hold = (engine: Engine.Engine) =>
  Effect.gen(function*() {
    const { connectWindow, connections, durationMs, holdWaitMs, timeoutMs } = engine.options
    const allOpen = yield* Deferred.make<void>()
    const allReplied = yield* Deferred.make<void>()
    const held = new Set<Engine.Session>()
    const waiting = new Set<Engine.Session>()
    let launched = 0
    let connecting = 0
    const settle = (session: Engine.Session) => {
      if (waiting.delete(session) && waiting.size === 0) Deferred.unsafeDone(allReplied, Exit.void)
    }
    const handlers: Engine.Handlers = {
      ready: (session) => {
        connecting--
        held.add(session)
        launch()
      },
      reply: (session, micros) => {
        engine.histogram.record(micros)
        engine.completed++
        settle(session)
      },
      failed: (session, connected) => {
        if (connected) {
          held.delete(session)
          settle(session)
        } else {
          connecting--
          launch()
        }
      }
    }
    const launch = () => {
      while (connecting < connectWindow && launched < connections && !engine.stopping) {
        launched++
        connecting++
        engine.open(handlers)
      }
      if (launched === connections && connecting === 0) Deferred.unsafeDone(allOpen, Exit.void)
    }

    engine.begin()
    launch()
    yield* Deferred.await(allOpen).pipe(Effect.timeoutOption(Duration.millis(durationMs)))
    engine.openSec = (performance.now() - engine.startedAt) / 1000
    // Connects still in progress when the opening phase is over are abandoned and counted as errors.
    launched = connections
    for (const session of engine.sessions) {
      if (session.phase === "connecting") session.fail("timeout")
    }
    // The wait ends early if the server has closed every connection.
    yield* Engine.until(engine, () => held.size === 0, holdWaitMs)
    const sentAt = performance.now()
    for (const session of held) {
      waiting.add(session)
      session.send()
    }
    if (waiting.size > 0) {
      yield* Deferred.await(allReplied).pipe(Effect.timeoutOption(Duration.millis(timeoutMs + 1000)))
    }
    const roundTripSec = (performance.now() - sentAt) / 1000
    yield* Engine.drain(engine)
    return roundTripSec
  })

// ---------------------------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------------------------

const millisOf = (option: string, input: Duration.DurationInput, least: number) =>
  Effect.suspend(() => {
    const duration = Duration.decodeUnknown(input)
    const millis = Option.isSome(duration) ? Duration.toMillis(duration.value) : Number.NaN
    return Number.isFinite(millis) && millis >= least
      ? Effect.succeed(millis)
      : Effect.fail(
        new BenchOptionError({
          option,
          value: Option.isSome(duration) ? Duration.format(duration.value) : String(input),
          expected: least > 0 ? "a finite duration above 0" : "a finite duration of 0 or more"
        })
      )
  })

const wholeNumber = (option: string, value: number, least: number, most: number) =>
  Number.isInteger(value) && value >= least && value <= most
    ? Effect.succeed(value)
    : Effect.fail(
      new BenchOptionError({ option, value: String(value), expected: `a whole number from ${least} to ${most}` })
    )

const nonEmpty = (option: string, bytes: Uint8Array) =>
  bytes.length > 0
    ? Effect.succeed(Buffer.from(bytes))
    : Effect.fail(new BenchOptionError({ option, value: "(empty)", expected: "at least one byte" }))

const resolve = (options: Options): Effect.Effect<Engine.Resolved, BenchOptionError> =>
  Effect.all({
    host: Effect.succeed(options.host),
    port: wholeNumber("port", options.port, 1, 65535),
    mode: Effect.succeed(options.mode),
    connections: wholeNumber("connections", options.connections, 1, 1_000_000),
    durationMs: millisOf("duration", options.duration, Number.MIN_VALUE),
    warmupMs: millisOf("warmup", options.warmup ?? 0, 0),
    holdWaitMs: millisOf("hold-wait", options.holdWait ?? Duration.seconds(2), 0),
    timeoutMs: millisOf("timeout", options.timeout ?? Duration.seconds(10), Number.MIN_VALUE),
    connectWindow: wholeNumber("connect-window", options.connectWindow ?? 100, 1, 1_000_000),
    message: nonEmpty("message", options.message),
    expect: nonEmpty("expect", options.expect)
  })

const round = (value: number, digits: number): number => {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

const latencyOf = (histogram: Histogram.Histogram): Latency => {
  const ms = (micros: number) => round(micros / 1000, 3)
  return {
    p50: ms(histogram.quantile(0.5)),
    p90: ms(histogram.quantile(0.9)),
    p99: ms(histogram.quantile(0.99)),
    "p99.9": ms(histogram.quantile(0.999)),
    max: ms(histogram.max()),
    mean: ms(histogram.mean())
  }
}

const progressReports = (engine: Engine.Engine, report: (progress: Progress) => Effect.Effect<void>) => {
  let lastReplies = 0
  let lastAt = performance.now()
  return Effect.sleep(Duration.seconds(1)).pipe(
    Effect.zipRight(Effect.suspend(() => {
      const now = performance.now()
      // The counters start again from zero after a warm-up.
      if (engine.replies < lastReplies) lastReplies = 0
      const rate = (engine.replies - lastReplies) / ((now - lastAt) / 1000)
      lastReplies = engine.replies
      lastAt = now
      return report({
        elapsedSec: (now - engine.startedAt) / 1000,
        replies: engine.replies,
        rate,
        errors: engine.errors,
        open: engine.sessions.size
      })
    })),
    Effect.forever
  )
}

/**
 * Runs a benchmark. Errors on connections (refused, reset, closed, wrong bytes, timeouts) are counted in the
 * result, never raised; only invalid options fail. Every socket is destroyed when the run ends or is interrupted.
 *
 * @since 0.1.0
 * @category running
 */
export const run: (options: Options) => Effect.Effect<Result, BenchOptionError> = Effect.fn("Bench.run")(
  function*(options: Options) {
    const resolved = yield* resolve(options)
    return yield* Effect.scoped(Effect.gen(function*() {
      const engine = yield* Effect.acquireRelease(
        Effect.sync(() => new Engine.Engine(resolved)),
        (engine) => Effect.sync(() => engine.destroy())
      )
      if (options.onProgress !== undefined) yield* Effect.forkScoped(progressReports(engine, options.onProgress))
      const loadSec = resolved.mode === "pingpong"
        ? yield* timed(engine, startPingpong)
        : resolved.mode === "churn"
        ? yield* timed(engine, startChurn)
        : yield* hold(engine)
      const durationSec = (engine.stoppedAt - engine.startedAt) / 1000
      return {
        mode: resolved.mode,
        host: resolved.host,
        port: resolved.port,
        connections: resolved.connections,
        durationSec: round(durationSec, 3),
        replies: engine.replies,
        perSec: round(loadSec > 0 ? engine.replies / loadSec : 0, 1),
        latencyMs: latencyOf(engine.histogram),
        errors: engine.errors,
        errorKinds: Object.fromEntries(engine.errorKinds),
        completed: engine.completed,
        opened: engine.opened,
        openSec: round(engine.openSec, 3)
      }
    }))
  }
)
