/**
 * A logger for terminals and log files: Info lines are printed as the bare message, as the Python tutorial's
 * `print` does; warnings and errors go to the error stream with their level.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

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
    ? message.map((part) => typeof part === "string" ? part : Inspectable.toStringUnknown(part)).join(" ")
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
 * Replaces the default logger with one writing to the process's standard output and error.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Logger.replace(
  Logger.defaultLogger,
  make({
    out: (line) => process.stdout.write(line + "\n"),
    err: (line) => process.stderr.write(line + "\n")
  })
)
