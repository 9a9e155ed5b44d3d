/**
 * The load generator's engine: plain `node:net` callbacks, one `Session` per client connection, counting replies,
 * errors and latencies; `Bench.ts` drives it through its modes.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import * as Histogram from "./Histogram.js"

/**
 * - `pingpong`: every connection sends the message, waits for the whole reply, and again, until the time is up.
 * - `churn`: every worker connects, makes one round trip and closes, again and again, until the time is up.
 * - `hold`: opens every connection, keeps them idle for `holdWait`, then makes one round trip on each.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "pingpong" | "churn" | "hold"

/**
 * A run's options, checked and in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly host: string
  readonly port: number
  readonly mode: Mode
  readonly connections: number
  readonly durationMs: number
  readonly warmupMs: number
  readonly holdWaitMs: number
  readonly timeoutMs: number
  readonly connectWindow: number
  readonly message: Buffer
  readonly expect: Buffer
}

/**
 * What a mode does when a session connects, gets its whole reply, or fails.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handlers {
  readonly ready: (session: Session) => void
  /** The whole expected reply arrived; `micros` is the round trip. */
  readonly reply: (session: Session, micros: number) => void
  /** The session ended on an error (already counted); `connected` tells whether it had connected. */
  readonly failed: (session: Session, connected: boolean) => void
}

const errorKind = (error: Error): string =>
  "code" in error && typeof error.code === "string" ? error.code : error.message

/**
 * How long a mode waits before replacing a connection that failed to connect.
 *
 * @since 0.1.0
 * @category constants
 */
export const retryDelayMs = 100

/**
 * The state of a run: the sessions, the counters, the histogram and the timers.
 *
 * @since 0.1.0
 * @category engine
 */
export class Engine {
  histogram = Histogram.make()
  readonly errorKinds = new Map<string, number>()
  readonly sessions = new Set<Session>()
  readonly timers = new Set<NodeJS.Timeout>()
  readonly sweeper: NodeJS.Timeout
  /** Every socket reads into this buffer; a read is checked before the next one can arrive. */
  readonly readBuffer = Buffer.allocUnsafe(64 * 1024)
  replies = 0
  errors = 0
  completed = 0
  opened = 0
  /** Sessions waiting for a reply. */
  waiting = 0
  /** No new work, nothing counted any more: set when the load phase ends or the run is interrupted. */
  stopping = false
  destroyed = false
  startedAt = 0
  stoppedAt = 0
  openSec = 0
  /** Called whenever a reply completes or a session closes, to wake {@link until}. */
  watcher: (() => void) | undefined

  constructor(readonly options: Resolved) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(250, Math.max(10, options.timeoutMs / 4)))
  }

  open(handlers: Handlers): Session {
    return new Session(this, handlers)
  }

  error(kind: string): void {
    this.errors++
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1)
  }

  changed(): void {
    this.watcher?.()
  }

  /** Runs `f` after `ms`, unless the run stops first. */
  later(ms: number, f: () => void): void {
    if (this.stopping) return
    if (ms <= 0) return f()
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.stopping) f()
    }, ms)
    this.timers.add(timer)
  }

  sweep(): void {
    const now = performance.now()
    for (const session of this.sessions) {
      if (
        (session.phase === "connecting" || session.phase === "waiting") && now - session.since > this.options.timeoutMs
      ) {
        session.fail("timeout")
      }
    }
  }

  begin(): void {
    this.startedAt = performance.now()
  }

  /** Forgets what was counted so far (the warm-up) and starts the measured phase now. */
  restart(): void {
    this.histogram = Histogram.make()
    this.errorKinds.clear()
    this.replies = 0
    this.errors = 0
    this.completed = 0
    this.begin()
  }

  /** Ends the load phase: nothing new starts and nothing more is counted. Idempotent. */
  halt(): void {
    if (this.stopping) return
    this.stopping = true
    this.stoppedAt = performance.now()
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  /** Destroys every socket still open. Idempotent. */
  destroy(): void {
    this.halt()
    if (this.destroyed) return
    this.destroyed = true
    clearInterval(this.sweeper)
    for (const session of this.sessions) session.close()
  }
}

/**
 * One client connection.
 *
 * @since 0.1.0
 * @category engine
 */
export class Session {
  phase: "connecting" | "idle" | "waiting" | "closing" | "done" = "connecting"
  /** When the current connect or round trip started. */
  since: number
  readonly openedAt: number
  matched = 0
  readonly socket: Net.Socket

  constructor(readonly engine: Engine, readonly handlers: Handlers) {
    this.openedAt = this.since = performance.now()
    engine.sessions.add(this)
    // `onread` hands every read to a callback in one shared buffer: no Buffer per read, no stream machinery.
    const socket = Net.connect({
      host: engine.options.host,
      port: engine.options.port,
      noDelay: true,
      onread: {
        buffer: engine.readBuffer,
        callback: (length, buffer) => {
          this.received(buffer, length)
          return true
        }
      }
    })
    this.socket = socket
    socket.on("connect", () => this.connected())
    socket.on("error", (error) => this.fail(errorKind(error)))
    socket.on("close", () => this.fail("closed"))
  }

  connected(): void {
    if (this.phase !== "connecting") return
    this.phase = "idle"
    this.engine.opened++
    if (this.engine.stopping) return this.end()
    this.handlers.ready(this)
  }

  send(): void {
    if (this.phase !== "idle") return
    this.phase = "waiting"
    this.engine.waiting++
    this.matched = 0
    this.since = performance.now()
    this.socket.write(this.engine.options.message)
  }

  received(buffer: Uint8Array, length: number): void {
    if (this.phase === "closing" || this.phase === "done") return
    if (this.phase !== "waiting") return this.fail("unexpected")
    const expect = this.engine.options.expect
    const end = this.matched + length
    if (end > expect.length || expect.compare(buffer, 0, length, this.matched, end) !== 0) {
      return this.fail("mismatch")
    }
    this.matched = end
    if (end < expect.length) return
    this.phase = "idle"
    this.engine.waiting--
    if (this.engine.stopping) {
      this.end()
      return this.engine.changed()
    }
    this.engine.replies++
    this.handlers.reply(this, (performance.now() - this.since) * 1000)
  }

  /** Ends the session on an error, which is counted unless the run is stopping. */
  fail(kind: string): void {
    if (this.phase === "done") return
    const connected = this.phase !== "connecting"
    this.close()
    if (this.engine.stopping) return
    this.engine.error(kind)
    this.handlers.failed(this, connected)
    this.engine.changed()
  }

  /** Closes politely: a FIN, then the session is done when the server has closed its side too. */
  end(): void {
    if (this.phase !== "idle") return
    this.phase = "closing"
    this.socket.end()
  }

  /** Ends the session at once, without an error. */
  close(): void {
    if (this.phase === "done") return
    if (this.phase === "waiting") this.engine.waiting--
    this.phase = "done"
    this.engine.sessions.delete(this)
    this.socket.destroy()
    this.engine.changed()
  }
}

/**
 * Waits until `done()` holds, re-checked whenever a session changes, for at most `ms`.
 *
 * @since 0.1.0
 * @category engine
 */
export const until = (engine: Engine, done: () => boolean, ms: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (done()) return resume(Effect.void)
    engine.watcher = () => {
      if (done()) {
        engine.watcher = undefined
        resume(Effect.void)
      }
    }
    return Effect.sync(() => {
      engine.watcher = undefined
    })
  }).pipe(Effect.timeoutOption(Duration.millis(ms)), Effect.asVoid)

const drainMs = 1000

/**
 * Ends a run without resetting connections: lets the round trips in flight finish (their replies are not
 * counted), closes every connection with a FIN and waits for the server to close its side, each step for at most
 * a second; then destroys whatever is left.
 */
export const drain = (engine: Engine): Effect.Effect<void> =>
  Effect.gen(function*() {
    engine.halt()
    for (const session of engine.sessions) {
      if (session.phase === "connecting") session.close()
    }
    yield* until(engine, () => engine.waiting === 0, drainMs)
    for (const session of engine.sessions) {
      if (session.phase === "idle") session.end()
    }
    yield* until(engine, () => engine.sessions.size === 0, drainMs)
    engine.destroy()
  })
