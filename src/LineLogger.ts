/**
 * The server's loggers: `tutorial` (Info lines as the bare message, as the Python tutorial's `print` does;
 * warnings and errors on the error stream with their level), `json` and `logfmt` (one record per line with a
 * timestamp, the level, the message and the fiber's log annotations), written through a bounded batched writer
 * to the standard streams or to a file that can be reopened for log rotation.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as JsonBytes from "./internal/jsonBytes.js"
import * as LogBuffer from "./internal/logBuffer.js"
import * as LogFormat from "./internal/logFormat.js"

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

/**
 * `tutorial`: today's lines (Info as the bare message on out, `WARN …` and `ERROR …` on err). `json`: one JSON
 * object per line. `logfmt`: one `key=value` line per record. `json` and `logfmt` records all go to out, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Format = "tutorial" | "json" | "logfmt"

/**
 * The formats, for validation and help texts.
 *
 * @since 0.1.0
 * @category models
 */
export const formats: ReadonlyArray<Format> = ["tutorial", "json", "logfmt"]

/**
 * Escapes what a terminal or a line-oriented log reader would take as layout: `\n`, `\r` and `\t` C-style, the
 * other C0 controls, DEL and the C1 controls as `\xHH` (NUL is `\x00`, ESC `\x1b`), U+2028 and U+2029 as
 * `\u2028` and `\u2029`. Everything else, any script included, is unchanged, and so is the backslash, which keeps
 * the display of ordinary text the tutorial's and makes escaping twice the same as escaping once.
 *
 * @since 0.1.0
 * @category formatting
 */
export const escapeControl: (text: string) => string = LogFormat.escapeControl

/**
 * The `tutorial` logger: Info and below as the bare message on `out`, warnings and errors on `err` with their
 * level (`WARN`, `ERROR`), followed by the pretty cause when there is one. Control characters in the message are
 * escaped with {@link escapeControl}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (output: Output): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    const line = LogFormat.tutorial(options)
    if (LogLevel.lessThan(options.logLevel, LogLevel.Warning)) output.out(line)
    else output.err(line)
  })

/**
 * A logger in the given format writing to `output` (see {@link Format}).
 *
 * `json`: `{"timestamp":"2026-12-03T08:00:00.000Z","level":"info","message":"…","event":"message",…}`.
 * `logfmt`: `timestamp=2026-12-03T08:00:00.000Z level=info message="…" event=message …`; a value is bare when it
 * holds no space, `"`, `=`, `\` or control character, otherwise quoted with `\\`, `\"` and control characters
 * escaped, so a backslash only ever appears doubled inside quotes.
 *
 * In both, the annotations follow the message: `event`, `connection`, `remote_address`, `remote_port`, `text`,
 * `bytes`, `hex` first when present, then the others by name; `cause` last, for a record with a cause. Levels are
 * lower case: `debug`, `info`, `warn`, `error`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFormat = (format: Format, output: Output): Logger.Logger<unknown, void> => {
  switch (format) {
    case "tutorial":
      return make(output)
    case "json":
      return Logger.make((options) => output.out(LogFormat.json(options)))
    case "logfmt":
      return Logger.make((options) => output.out(LogFormat.logfmt(options)))
  }
}

/**
 * The bounds of a {@link batched} writer.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchedOptions {
  /** Lines held while the destination is not draining (default 10,000). */
  readonly maxPendingLines?: number | undefined
  /** Characters held while the destination is not draining (default 1 MiB of UTF-16 code units). */
  readonly maxPendingChars?: number | undefined
  /** The line that reports lost lines once writing resumes. */
  readonly dropped?: ((count: number) => string) | undefined
}

/**
 * A batched writer: `push` a line, `flush` what is pending, `resume` after the destination drained, `dropped`
 * lines so far.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batched {
  readonly push: (line: string) => void
  readonly flush: () => void
  readonly resume: () => void
  readonly dropped: () => number
}

/**
 * Collects lines and writes them in one call at most once a millisecond (or every 512 lines), which costs far
 * less than a write per line; `flush` writes what is pending at once. Order is kept.
 *
 * When `write` returns `false` (as a stream's `write` does over its high-water mark) nothing more is written
 * until `resume` is called (on the stream's `drain`). Meanwhile at most 10,000 lines and 1 MiB are held, the lines
 * beyond are dropped and counted, and one line saying how many were dropped is written, where they were lost,
 * when writing resumes. Memory stays bounded when nobody reads the output.
 *
 * @since 0.1.0
 * @category constructors
 */
export const batched: (write: (chunk: string) => boolean | void, options?: BatchedOptions) => Batched = LogBuffer.make

/**
 * The log file could not be opened (at start or on reopen) or written. On a failed reopen the previous file stays
 * in use.
 *
 * @since 0.1.0
 * @category errors
 */
export class LineLoggerError extends Data.TaggedError("LineLoggerError")<{
  readonly reason: "Open" | "Reopen" | "Write"
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    const why = this.cause instanceof Error ? this.cause.message : String(this.cause)
    switch (this.reason) {
      case "Open":
        return `cannot open log file ${this.path}: ${why}`
      case "Reopen":
        return `cannot reopen log file ${this.path} (still writing to the previous file): ${why}`
      case "Write":
        return `cannot write to log file ${this.path} (lines are lost until a write succeeds): ${why}`
    }
  }
}

/**
 * The installed logger's controls: `reopen` closes and reopens the log file by its path (after logrotate moved
 * it: call it on SIGHUP); every line logged before goes to the old file and every line after to the new one.
 * Without a log file it does nothing. `flush` writes what is pending now.
 *
 * @since 0.1.0
 * @category tags
 */
export class LineLogger extends Context.Tag("effect-tcp-server/LineLogger")<LineLogger, {
  readonly reopen: Effect.Effect<void, LineLoggerError>
  readonly flush: Effect.Effect<void>
  readonly dropped: Effect.Effect<number>
}>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `tutorial`. */
  readonly format?: Format | undefined
  /** Append every line here instead of writing to stdout and stderr. */
  readonly file?: string | undefined
}

// Every logger that would print the same line again: Effect's default and pretty loggers (NodeRuntime.runMain
// installs the pretty one unless told not to) and the tracer logger, which copies every line into the current
// span.
const install = (logger: Logger.Logger<unknown, void>): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.remove(Logger.defaultLogger),
    Logger.remove(Logger.prettyLoggerDefault),
    Logger.remove(Logger.tracerLogger),
    Logger.add(logger)
  )

// The logger of the standard streams and log files: json records are written into the buffer as bytes.
const bytesLogger = (
  format: Format,
  out: LogBuffer.BytesBuffer,
  err: LogBuffer.BytesBuffer
): Logger.Logger<unknown, void> =>
  format === "json"
    ? Logger.make((options) => JsonBytes.push(options, out))
    : makeFormat(format, { out: out.push, err: err.push })

const droppedLine = (format: Format) => (count: number): string =>
  LogFormat[format]({
    date: new Date(),
    logLevel: LogLevel.Warning,
    message: `${count} log ${count === 1 ? "line" : "lines"} dropped: the log output was not being read`,
    annotations: LogFormat.noAnnotations,
    cause: LogFormat.noCause
  })

// Writes as much of `chunk` as the descriptor takes without blocking and returns the rest (empty when all of it
// was written; pipes may take part of a write, and a full non-blocking pipe none: EAGAIN).
const writeSync = (fd: number, chunk: Uint8Array): Uint8Array => {
  let bytes = chunk
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(Fs.writeSync(fd, bytes))
    } catch (cause) {
      if (typeof cause === "object" && cause !== null && "code" in cause && cause.code === "EAGAIN") return bytes
      throw cause
    }
  }
  return bytes
}

const standardStreams = (format: Format) =>
  Effect.gen(function*() {
    let exiting = false
    const stream = (fd: 1 | 2, target: NodeJS.WriteStream) => {
      const buffer = LogBuffer.makeBytes(
        // Once the process is exiting only synchronous writes still happen; they would overtake what the stream
        // still holds, so they are only used when it holds nothing.
        (chunk) => {
          if (!exiting || target.writableLength > 0) return target.write(chunk)
          const rest = writeSync(fd, chunk)
          // A full non-blocking pipe: what is left goes to the stream, which writes it if the process lives on.
          return rest.length === 0 || target.write(rest)
        },
        { dropped: droppedLine(format) }
      )
      return { buffer, target }
    }
    const out = stream(1, process.stdout)
    const err = stream(2, process.stderr)
    const flushAtExit = () => {
      exiting = true
      out.buffer.flush()
      err.buffer.flush()
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("exit", flushAtExit)
        out.target.on("drain", out.buffer.resume)
        err.target.on("drain", err.buffer.resume)
      }),
      () =>
        Effect.sync(() => {
          process.off("exit", flushAtExit)
          out.target.off("drain", out.buffer.resume)
          err.target.off("drain", err.buffer.resume)
          out.buffer.flush()
          err.buffer.flush()
        })
    )
    const logger = bytesLogger(format, out.buffer, err.buffer)
    const service = LineLogger.of({
      reopen: Effect.void,
      flush: Effect.sync(() => {
        out.buffer.flush()
        err.buffer.flush()
      }),
      dropped: Effect.sync(() => out.buffer.dropped() + err.buffer.dropped())
    })
    return Layer.merge(install(logger), Layer.succeed(LineLogger, service))
  })

const openAppend = (path: string, reason: "Open" | "Reopen") =>
  Effect.try({
    try: () => Fs.openSync(path, "a"),
    catch: (cause) => new LineLoggerError({ reason, path, cause })
  })

const logFile = (format: Format, path: string) =>
  Effect.gen(function*() {
    let fd = yield* openAppend(path, "Open")
    let failing = false
    // Writes are synchronous, as Node's own writes to a file on stdout are: nothing is held in a stream, so a
    // reopen or an exit can neither lose nor reorder a line.
    const buffer = LogBuffer.makeBytes((chunk) => {
      try {
        if (writeSync(fd, chunk).length > 0) throw new Error("the file did not accept the whole write")
        failing = false
      } catch (cause) {
        // Said once per run of failures, on stderr, which is the only place left.
        if (!failing) process.stderr.write(`${new LineLoggerError({ reason: "Write", path, cause }).message}\n`)
        failing = true
      }
    }, { dropped: droppedLine(format) })
    const flushAtExit = () => buffer.flush()
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("exit", flushAtExit)),
      () =>
        Effect.sync(() => {
          process.off("exit", flushAtExit)
          buffer.flush()
          Fs.closeSync(fd)
        })
    )
    const reopen = Effect.suspend(() => {
      buffer.flush()
      return openAppend(path, "Reopen").pipe(
        Effect.map((next) => {
          const previous = fd
          fd = next
          Fs.closeSync(previous)
        })
      )
    })
    const logger = bytesLogger(format, buffer, buffer)
    const service = LineLogger.of({
      reopen,
      flush: Effect.sync(buffer.flush),
      dropped: Effect.sync(buffer.dropped)
    })
    return Layer.merge(install(logger), Layer.succeed(LineLogger, service))
  })

/**
 * Installs a logger in `format` (default `tutorial`) writing to stdout and stderr, or to `file` (opened for
 * appending; all records in it, in order), and provides {@link LineLogger} to reopen the file. Lines are batched
 * (a write at most once a millisecond) with a bound (see {@link batched}); what is pending is written when the
 * layer is released and, synchronously, when the process exits.
 *
 * It removes Effect's default, pretty and tracer loggers, so each line is printed once under
 * `NodeRuntime.runMain` without `disablePrettyLogger` too. Other loggers an application added stay.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<LineLogger, LineLoggerError> => {
  const format = options.format ?? "tutorial"
  return Layer.unwrapScoped(
    options.file === undefined ? standardStreams(format) : logFile(format, options.file)
  )
}

/**
 * The `tutorial` logger on stdout and stderr: `layerWith({})`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LineLogger> = Layer.unwrapScoped(standardStreams("tutorial"))

/**
 * While the scope is open, reopens the log file on `signal` (default `SIGHUP`, as logrotate's `postrotate`
 * sends); a failed reopen is logged as a warning and the previous file stays in use. Installing the listener
 * also stops the signal from ending the process, which is Node's default for SIGHUP.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reopenOnSignal = (
  signal: NodeJS.Signals = "SIGHUP"
): Effect.Effect<void, never, LineLogger | Scope.Scope> =>
  Effect.gen(function*() {
    const logger = yield* LineLogger
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const onSignal = () => {
      runFork(logger.reopen.pipe(Effect.catchAll((error) => Effect.logWarning(error.message))))
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on(signal, onSignal)),
      () => Effect.sync(() => process.off(signal, onSignal))
    )
  })
