import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import type * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import type * as List from "effect/List"
import type * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as LogSpan from "effect/LogSpan"

/** A log annotation: its name and value. @internal */
export type Annotation = readonly [string, unknown]

/**
 * What a logger gets for a line logged through {@link make}: what `Effect.log` passes, except that the
 * annotations map is built only when a logger reads it. The tutorial format never does; the json and logfmt
 * formats read `base`, `fixed` and `extra` instead, in that order (a name may come more than once: the last
 * one wins, as with `Effect.annotateLogs`). Building the map costs a `HashMap.set` per annotation, about a
 * tenth of a churn cycle with the tutorial's lines on.
 *
 * @internal
 */
export class Line implements Logger.Logger.Options<unknown> {
  private map: HashMap.HashMap<string, unknown> | undefined = undefined
  readonly cause: Cause.Cause<unknown> = Cause.empty
  constructor(
    readonly fiberId: FiberId.FiberId,
    readonly logLevel: LogLevel.LogLevel,
    readonly message: unknown,
    readonly context: FiberRefs.FiberRefs,
    readonly spans: List.List<LogSpan.LogSpan>,
    readonly date: Date,
    /** The fiber's annotations. */
    readonly base: HashMap.HashMap<string, unknown>,
    /** The annotations of every line of the connection. */
    readonly fixed: ReadonlyArray<Annotation>,
    /** This line's own. */
    readonly extra: ReadonlyArray<Annotation> | undefined
  ) {}

  /** The fiber's annotations, then the line's. */
  get annotations(): HashMap.HashMap<string, unknown> {
    if (this.map === undefined) {
      let map = this.base
      for (const [key, value] of this.fixed) map = HashMap.set(map, key, value)
      if (this.extra !== undefined) { for (const [key, value] of this.extra) map = HashMap.set(map, key, value) }
      this.map = map
    }
    return this.map
  }
}

/**
 * Logs lines at `level` through a fiber's loggers, from plain code that runs while the fiber waits: what
 * `Effect.logWithLevel` does (same loggers, minimum level, spans, annotations, fiber id and clock), with the
 * fiber's state read once instead of on every line. Undefined when the fiber's minimum log level drops the
 * level, so callers can skip formatting lines nobody will see.
 *
 * Only for a fiber suspended in the code that logs: the loggers and annotations it sees are the ones the
 * fiber had when this was made. `fixed` are annotations of every line, `extra` of one line.
 *
 * @internal
 */
export const make = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  level: LogLevel.LogLevel,
  fixed: ReadonlyArray<Annotation> = []
): ((line: string, extra?: ReadonlyArray<Annotation>) => void) | undefined => {
  if (LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), level)) return undefined
  const loggers = fiber.getFiberRef(FiberRef.currentLoggers)
  const spans = fiber.getFiberRef(FiberRef.currentLogSpan)
  const annotations = fiber.getFiberRef(FiberRef.currentLogAnnotations)
  const context = fiber.getFiberRefs()
  const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
  const fiberId = fiber.id()
  return (line, extra) => {
    // As Effect.log passes its arguments: the message as an array.
    const options = new Line(
      fiberId,
      level,
      [line],
      context,
      spans,
      new Date(clock.unsafeCurrentTimeMillis()),
      annotations,
      fixed,
      extra
    )
    Inspectable.withRedactableContext(context, () => {
      for (const logger of loggers) logger.log(options)
    })
  }
}
