/**
 * The signals `serve` handles besides SIGINT and SIGTERM (which `NodeRuntime.runMain` turns into a graceful
 * shutdown): SIGUSR1 prints a stats line instead of opening Node's inspector, SIGHUP reopens the log file
 * instead of killing the process.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

/**
 * What SIGHUP runs to reopen the log file: none while the CLI writes no log file. A `--log-file` option
 * provides it (`Layer.succeed(Signals.LogReopener, Option.some(reopen))`).
 *
 * @since 0.1.0
 * @category hooks
 */
export class LogReopener extends Context.Reference<LogReopener>()("effect-tcp-server/cli/LogReopener", {
  defaultValue: (): Option.Option<Effect.Effect<void, unknown>> => Option.none()
}) {}

/**
 * Runs `handle` every time the process receives `signal`, for as long as the scope is open.
 *
 * @since 0.1.0
 * @category signals
 */
export const on = (
  signal: "SIGUSR1" | "SIGHUP",
  handle: Effect.Effect<void>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.map(Effect.runtime<never>(), (runtime) => {
      const listener = () => {
        Runtime.runFork(runtime)(handle)
      }
      process.on(signal, listener)
      return listener
    }),
    (listener) =>
      Effect.sync(() => {
        process.off(signal, listener)
      })
  )

/**
 * What SIGHUP does: reopens the log file if there is one (see {@link LogReopener}), and says so at Info level.
 *
 * @since 0.1.0
 * @category signals
 */
export const hangup: Effect.Effect<void> = Effect.flatMap(LogReopener, (reopener) =>
  Option.match(reopener, {
    onNone: () => Effect.logInfo("SIGHUP: nothing to reopen"),
    onSome: (reopen) =>
      reopen.pipe(
        Effect.zipRight(Effect.logInfo("SIGHUP: log file reopened")),
        Effect.catchAllCause((cause) => Effect.logWarning("SIGHUP: reopening the log file failed", cause))
      )
  }))

/**
 * A Ctrl-C in a terminal reaches every process of its group: run through `npm start` (or any wrapper that
 * forwards signals), the server gets SIGINT twice within a few milliseconds, once from the terminal and once from
 * npm. `NodeRuntime.runMain` handles the first and then lets Node's default action (exit at once) take the next,
 * which would skip the graceful shutdown. So a repeat of a signal within `windowMillis` of the first is ignored;
 * a later one still exits at once, as Node does.
 *
 * @since 0.1.0
 * @category signals
 */
export const tolerateRepeatedSignal = (windowMillis = 100): void => {
  let first: number | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    const now = performance.now()
    if (first === undefined) {
      // runMain's own listener starts the shutdown.
      first = now
      return
    }
    if (now - first < windowMillis) return
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    process.kill(process.pid, signal)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
}
