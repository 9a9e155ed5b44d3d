import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as LogLevel from "effect/LogLevel"

/**
 * Logs lines at `level` through a fiber's loggers, from plain code that runs while the fiber waits: what
 * `Effect.logWithLevel` does (same loggers, minimum level, spans, annotations, fiber id and clock), with the
 * fiber's state read once instead of on every line. Undefined when the fiber's minimum log level drops the
 * level, so callers can skip formatting lines nobody will see.
 *
 * Only for a fiber suspended in the code that logs: the loggers and annotations it sees are the ones the
 * fiber had when this was made.
 *
 * @internal
 */
export const make = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  level: LogLevel.LogLevel,
  fixed: ReadonlyArray<readonly [string, unknown]> = []
): ((line: string, extra?: ReadonlyArray<readonly [string, unknown]>) => void) | undefined => {
  if (LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), level)) return undefined
  const loggers = fiber.getFiberRef(FiberRef.currentLoggers)
  const spans = fiber.getFiberRef(FiberRef.currentLogSpan)
  // The annotations every line gets, added once; `extra` are added per line.
  let annotations = fiber.getFiberRef(FiberRef.currentLogAnnotations)
  for (const [key, value] of fixed) annotations = HashMap.set(annotations, key, value)
  const context = fiber.getFiberRefs()
  const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
  const fiberId = fiber.id()
  return (line, extra) => {
    let lineAnnotations = annotations
    if (extra !== undefined) {
      for (const [key, value] of extra) lineAnnotations = HashMap.set(lineAnnotations, key, value)
    }
    const options = {
      fiberId,
      logLevel: level,
      // As Effect.log passes its arguments.
      message: [line],
      cause: Cause.empty,
      context,
      spans,
      annotations: lineAnnotations,
      date: new Date(clock.unsafeCurrentTimeMillis())
    }
    Inspectable.withRedactableContext(context, () => {
      for (const logger of loggers) logger.log(options)
    })
  }
}
