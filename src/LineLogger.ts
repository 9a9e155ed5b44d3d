/**
 * A logger for terminals and log files: Info lines are printed as the bare message, as the Python tutorial's
 * `print` does; warnings and errors go to the error stream with their level.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Fs from "node:fs"

/**
 * Where the lines go.
 *
 * @since 0.1.0
 * @category models
 */
export interface Output {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

const render = (message: unknown): string =>
  Array.isArray(message)
    ? message.length === 1 && typeof message[0] === "string"
      ? message[0]
      : message.map((part) => typeof part === "string" ? part : Inspectable.toStringUnknown(part)).join(" ")
    : typeof message === "string"
    ? message
    : Inspectable.toStringUnknown(message)

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (output: Output): Logger.Logger<unknown, void> =>
  Logger.make(({ cause, logLevel, message }) => {
    const text = render(message)
    if (LogLevel.lessThan(logLevel, LogLevel.Warning)) {
      output.out(text)
      return
    }
    const label = logLevel === LogLevel.Warning ? "WARN" : logLevel.label
    output.err(Cause.isEmpty(cause) ? `${label} ${text}` : `${label} ${text}\n${Cause.pretty(cause)}`)
  })

/**
 * Collects lines and writes them in one call per event-loop turn (or every 512 lines), which costs far less
 * than a write per line; `flush` writes what is pending at once. Order is kept.
 *
 * @since 0.1.0
 * @category constructors
 */
export const batched = (
  write: (chunk: string) => void
): { readonly push: (line: string) => void; readonly flush: () => void } => {
  let pending: Array<string> = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending.length === 0) return
    const chunk = pending.join("")
    pending = []
    write(chunk)
  }
  return {
    push: (line) => {
      pending.push(line + "\n")
      if (pending.length >= 512) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    flush
  }
}

/**
 * Replaces the default logger with one writing to the process's standard output and error, batched per
 * event-loop turn, and removes Effect's tracer logger (which records every line in the current span). What is
 * pending is written when the layer is released and, synchronously, when the process exits, so no line is lost.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Layer.unwrapScoped(Effect.gen(function*() {
  let exiting = false
  // Once the process is exiting, only synchronous writes still happen.
  const out = batched((chunk) => exiting ? Fs.writeSync(1, chunk) : process.stdout.write(chunk))
  const err = batched((chunk) => exiting ? Fs.writeSync(2, chunk) : process.stderr.write(chunk))
  const flushAtExit = () => {
    exiting = true
    out.flush()
    err.flush()
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => process.on("exit", flushAtExit)),
    () =>
      Effect.sync(() => {
        process.off("exit", flushAtExit)
        out.flush()
        err.flush()
      })
  )
  // Effect's tracer logger is dropped too: it copies every log line into the current span, and the CLI exports
  // no spans.
  return Layer.merge(
    Logger.replace(Logger.defaultLogger, make({ out: out.push, err: err.push })),
    Logger.remove(Logger.tracerLogger)
  )
}))
