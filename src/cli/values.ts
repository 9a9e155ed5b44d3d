/**
 * Reading the values of command-line flags and environment variables: whole numbers, durations, choices,
 * booleans and comma-separated lists. Each reader returns the value, or what was expected instead, in words
 * that finish the sentence `invalid --port "abc": expected …`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/**
 * Reads a value from its text: the value, or (on the left) what was expected, e.g. `a whole number from 0 to
 * 65535`.
 *
 * @since 0.1.0
 * @category models
 */
export type Reader<A> = (text: string) => Either.Either<A, string>

/**
 * A whole number written in decimal digits, from `min` to `max` (no sign, fraction or exponent).
 *
 * @since 0.1.0
 * @category readers
 */
export const wholeNumber = (min: number, max: number = Number.MAX_SAFE_INTEGER): Reader<number> => {
  const expected = max === Number.MAX_SAFE_INTEGER
    ? `a whole number of ${min} or more`
    : `a whole number from ${min} to ${max}`
  return (text) => {
    if (!/^\d+$/.test(text)) return Either.left(expected)
    const value = Number(text)
    return value >= min && value <= max ? Either.right(value) : Either.left(expected)
  }
}

/**
 * The longest duration a Node.js timer can wait (2^31 - 1 ms, about 596 hours); a longer one fires at once.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxDuration: Duration.Duration = Duration.millis(2 ** 31 - 1)

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * What a duration flag accepts, in words.
 *
 * @since 0.1.0
 * @category constants
 */
export const durationExpected = "a duration such as 30, 30s, 500ms, 5m or 1h (a number alone is seconds), " +
  "from 0 to 596h"

/**
 * A duration: `30` (seconds), `30s`, `500ms`, `5m` or `1h`, decimals allowed (`1.5s`). Negative, non-finite
 * (`NaN`, `Infinity`), empty and longer than {@link maxDuration} values are refused.
 *
 * @since 0.1.0
 * @category readers
 */
export const duration: Reader<Duration.Duration> = (text) => {
  const match = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(text)
  if (match === null) return Either.left(durationExpected)
  const millis = Number(match[1]) * units[match[2] ?? "s"]!
  return millis <= Duration.toMillis(maxDuration)
    ? Either.right(Duration.millis(millis))
    : Either.left(durationExpected)
}

/**
 * Writes a duration as {@link duration} reads it, in the largest unit that keeps it whole: `5m`, `30s`,
 * `500ms`; zero is `0`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatDuration = (value: Duration.Duration): string => {
  const millis = Duration.toMillis(value)
  if (millis === 0) return "0"
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (millis % size === 0) return `${millis / size}${unit}`
  }
  return `${millis}ms`
}

/**
 * One of a fixed list of words.
 *
 * @since 0.1.0
 * @category readers
 */
export const choice = <const A extends string>(choices: ReadonlyArray<A>): Reader<A> => {
  const expected = `one of ${choices.join(", ")}`
  return (text) => {
    const found = choices.find((choice) => choice === text)
    return found === undefined ? Either.left(expected) : Either.right(found)
  }
}

const truthy = ["true", "yes", "on", "1"]
const falsy = ["false", "no", "off", "0"]

/**
 * The words a boolean accepts (as @effect/cli reads a boolean flag's value).
 *
 * @since 0.1.0
 * @category constants
 */
export const booleanWords: ReadonlyArray<string> = [...truthy, ...falsy, "y", "n"]

/**
 * `true`, `yes`, `on`, `1` (or `y`) and `false`, `no`, `off`, `0` (or `n`), in any case.
 *
 * @since 0.1.0
 * @category readers
 */
export const boolean: Reader<boolean> = (text) => {
  const word = text.toLowerCase()
  return truthy.includes(word) || word === "y"
    ? Either.right(true)
    : falsy.includes(word) || word === "n"
    ? Either.right(false)
    : Either.left("true or false")
}

/**
 * Any text, the empty text included.
 *
 * @since 0.1.0
 * @category readers
 */
export const anyText: Reader<string> = Either.right

/**
 * Any text but the empty (or blank) one.
 *
 * @since 0.1.0
 * @category readers
 */
export const nonEmptyText = (expected: string): Reader<string> => (text) =>
  text.trim() === "" ? Either.left(expected) : Either.right(text)

/**
 * A comma-separated list with at least one item; items are trimmed and empty ones dropped. A list that
 * parses to nothing (`""`, `" "`, `","`) is refused: for an allow list, "nothing" could be read as "no one" or
 * as "everyone".
 *
 * @since 0.1.0
 * @category readers
 */
export const list = (expected: string): Reader<ReadonlyArray<string>> => (text) => {
  const items = text.split(",").map((item) => item.trim()).filter((item) => item.length > 0)
  return items.length === 0 ? Either.left(expected) : Either.right(items)
}

/**
 * An http:// or https:// URL, such as an OTLP collector's `http://127.0.0.1:4318`.
 *
 * @since 0.1.0
 * @category readers
 */
export const url: Reader<Option.Option<string>> = (text) => {
  const parsed = URL.canParse(text) ? new URL(text) : undefined
  return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
    ? Either.right(Option.some(text))
    : Either.left("an http:// or https:// URL such as http://127.0.0.1:4318")
}
