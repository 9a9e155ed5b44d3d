/**
 * `effect-tcp-server bench`: a load generator for this server (or any server that answers every message with a
 * fixed reply), in the spirit of `redis-benchmark`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Bench from "./Bench.js"
import * as Encoding from "./Encoding.js"
import * as Handler from "./Handler.js"

/**
 * The message sent when neither `--message` nor `--message-hex` is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMessage = "你好"

/**
 * No correct reply came back at all: the server is not there, or `--expect` does not match what it sends.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoReplyError extends Data.TaggedError("NoReplyError")<{
  readonly host: string
  readonly port: number
  readonly errors: number
  readonly errorKinds: Readonly<Record<string, number>>
}> {
  override get message(): string {
    const kinds = Object.keys(this.errorKinds)
    const hint = kinds.includes("ECONNREFUSED")
      ? "is the server running there?"
      : kinds.includes("mismatch")
      ? "the server's reply differs from the expected one: check --expect/--expect-hex and --encoding"
      : kinds.includes("timeout")
      ? "the server did not answer in time: does it reply to this message?"
      : "check that the server runs there and replies to this message"
    return `no correct reply from ${this.host}:${this.port} (${this.errors} errors: ${
      formatKinds(this.errorKinds)
    }): ${hint}`
  }
}

/**
 * A `--message-hex` or `--expect-hex` value is not hexadecimal, or text and hex were both given.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadError extends Data.TaggedError("PayloadError")<{
  readonly option: string
  readonly problem: string
}> {
  override get message(): string {
    return `--${this.option}: ${this.problem}`
  }
}

/**
 * @since 0.1.0
 * @category options
 */
export const host = Options.text("host").pipe(
  Options.withDescription("Address of the server to load. Default 127.0.0.1."),
  Options.withDefault("127.0.0.1")
)

/**
 * @since 0.1.0
 * @category options
 */
export const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("Port of the server to load. Default 9090."),
  Options.withDefault(9090)
)

/**
 * @since 0.1.0
 * @category options
 */
export const connections = Options.integer("connections").pipe(
  Options.withAlias("c"),
  Options.withDescription("Connections (pingpong, hold) or workers (churn). Default 100."),
  Options.withDefault(100)
)

/**
 * @since 0.1.0
 * @category options
 */
export const duration = Options.float("duration").pipe(
  Options.withAlias("d"),
  Options.withDescription(
    "Seconds the load lasts (pingpong, churn); in hold mode, the most the opening of the connections may take. " +
      "Default 10."
  ),
  Options.withDefault(10)
)

/**
 * @since 0.1.0
 * @category options
 */
export const mode = Options.choice("mode", Bench.modes).pipe(
  Options.withDescription(
    "pingpong: each connection sends and waits for the reply in a loop; churn: each worker connects, makes one " +
      "round trip and closes, in a loop; hold: open every connection, wait --hold-wait, then one round trip on each. " +
      "Default pingpong."
  ),
  Options.withDefault("pingpong")
)

/**
 * @since 0.1.0
 * @category options
 */
export const message = Options.text("message").pipe(
  Options.withDescription(`Text sent for every round trip, encoded with --encoding (default ${defaultMessage}).`),
  Options.optional
)

/**
 * @since 0.1.0
 * @category options
 */
export const messageHex = Options.text("message-hex").pipe(
  Options.withDescription("Bytes sent for every round trip, in hexadecimal (instead of --message)."),
  Options.optional
)

/**
 * @since 0.1.0
 * @category options
 */
export const encoding = Options.text("encoding").pipe(
  Options.withAlias("e"),
  Options.withDescription("Encoding of --message and --expect, any iconv-lite encoding. Default gbk."),
  Options.withDefault("gbk")
)

/**
 * @since 0.1.0
 * @category options
 */
export const expect = Options.text("expect").pipe(
  Options.withDescription(
    `Reply expected for every message, encoded with --encoding (default ${Handler.defaultReply}).`
  ),
  Options.optional
)

/**
 * @since 0.1.0
 * @category options
 */
export const expectHex = Options.text("expect-hex").pipe(
  Options.withDescription("Reply expected for every message, in hexadecimal (instead of --expect)."),
  Options.optional
)

/**
 * @since 0.1.0
 * @category options
 */
export const holdWait = Options.float("hold-wait").pipe(
  Options.withDescription("Hold mode: seconds the connections stay idle before their round trip. Default 2."),
  Options.withDefault(2)
)

/**
 * @since 0.1.0
 * @category options
 */
export const timeout = Options.float("timeout").pipe(
  Options.withDescription(
    "Seconds after which a connect or a round trip counts as an error (and is replaced). Default 10."
  ),
  Options.withDefault(10)
)

/**
 * @since 0.1.0
 * @category options
 */
export const json = Options.boolean("json").pipe(
  Options.withDescription("Print only the JSON line of the result: no progress, no summary.")
)

/**
 * The options of `bench`.
 *
 * @since 0.1.0
 * @category options
 */
export const benchOptions = {
  host,
  port,
  connections,
  duration,
  mode,
  message,
  messageHex,
  encoding,
  expect,
  expectHex,
  holdWait,
  timeout,
  json
}

const parseHex = (option: string, hex: string): Effect.Effect<Uint8Array, PayloadError> => {
  const digits = hex.replace(/[\s:]/g, "").replace(/^0x/i, "")
  return /^(?:[0-9a-f]{2})+$/i.test(digits)
    ? Effect.succeed(Buffer.from(digits, "hex"))
    : Effect.fail(
      new PayloadError({
        option,
        problem: `"${hex}" is not hexadecimal bytes: give pairs of digits 0-9 a-f, such as c4e3bac3`
      })
    )
}

const payload = (
  option: string,
  text: Option.Option<string>,
  hex: Option.Option<string>,
  encoding: string,
  fallback: string
): Effect.Effect<Uint8Array, PayloadError> => {
  if (Option.isSome(hex)) {
    return Option.isSome(text)
      ? Effect.fail(new PayloadError({ option, problem: `give either --${option} or --${option}-hex, not both` }))
      : parseHex(`${option}-hex`, hex.value)
  }
  return Effect.succeed(Encoding.encode(Option.getOrElse(text, () => fallback), encoding))
}

const seconds = (option: string, value: number, zeroAllowed: boolean) =>
  Number.isFinite(value) && (zeroAllowed ? value >= 0 : value > 0)
    ? Effect.succeed(Duration.millis(value * 1000))
    : Effect.fail(
      new Bench.BenchOptionError({
        option,
        value: String(value),
        expected: zeroAllowed ? "a number of seconds, 0 or more" : "a number of seconds above 0"
      })
    )

const formatKinds = (kinds: Readonly<Record<string, number>>): string =>
  Object.entries(kinds).map(([kind, count]) => `${kind} ${count}`).join(", ")

const fixed = (value: number, digits: number) => value.toFixed(digits)

/**
 * One line of live progress.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatProgress = (progress: Bench.Progress): string =>
  `[${fixed(progress.elapsedSec, 0).padStart(4)} s] replies ${String(progress.replies).padStart(9)}  ` +
  `${fixed(progress.rate, 0).padStart(7)}/s  errors ${progress.errors}  open ${progress.open}`

/**
 * The human summary of a result.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSummary = (result: Bench.Result): string => {
  const latency = result.latencyMs
  const target = `${result.host}:${result.port}`
  const lines: Array<string> = []
  switch (result.mode) {
    case "pingpong":
      lines.push(
        `pingpong: ${result.connections} connections to ${target} for ${fixed(result.durationSec, 2)} s`,
        `  replies        ${result.replies}  (${fixed(result.perSec, 1)} per second)`
      )
      break
    case "churn":
      lines.push(
        `churn: ${result.connections} workers connecting to ${target} for ${fixed(result.durationSec, 2)} s`,
        `  cycles         ${result.completed}  (${fixed(result.perSec, 1)} per second: connect, one round trip, close)`
      )
      break
    case "hold":
      lines.push(
        `hold: ${result.connections} connections to ${target}, ${fixed(result.durationSec, 2)} s in all`,
        `  opened         ${result.opened} of ${result.connections} in ${fixed(result.openSec, 2)} s`,
        `  replies        ${result.completed} of ${result.connections} connections got their reply ` +
          `(${fixed(result.perSec, 1)} per second)`
      )
      break
  }
  lines.push(
    `  latency (ms)   p50 ${latency.p50}  p90 ${latency.p90}  p99 ${latency.p99}  p99.9 ${latency["p99.9"]}  ` +
      `max ${latency.max}  mean ${latency.mean}${result.mode === "churn" ? "  (whole cycle)" : ""}`,
    `  errors         ${result.errors}${result.errors > 0 ? `  (${formatKinds(result.errorKinds)})` : ""}`
  )
  return lines.join("\n")
}

/**
 * The result as the one-line JSON object printed last: `mode`, `connections`, `durationSec`, `replies`,
 * `perSec`, `latencyMs`, `errors`, `completed`, then `opened`, `openSec`, `errorKinds`, `host` and `port`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatJson = (result: Bench.Result): string =>
  JSON.stringify({
    mode: result.mode,
    connections: result.connections,
    durationSec: result.durationSec,
    replies: result.replies,
    perSec: result.perSec,
    latencyMs: result.latencyMs,
    errors: result.errors,
    completed: result.completed,
    opened: result.opened,
    openSec: result.openSec,
    errorKinds: result.errorKinds,
    host: result.host,
    port: result.port
  })

/**
 * `bench`: loads a server and reports replies per second, latency percentiles and errors. Progress goes to
 * standard error once a second, the summary and a JSON line to standard output. Fails with
 * {@link NoReplyError} (after printing the result) when no correct reply came back at all.
 *
 * @since 0.1.0
 * @category commands
 */
export const bench = Command.make("bench", benchOptions, (options) =>
  Effect.gen(function*() {
    const encoding = yield* Encoding.validate(options.encoding)
    const messageBytes = yield* payload("message", options.message, options.messageHex, encoding, defaultMessage)
    const expectBytes = yield* payload("expect", options.expect, options.expectHex, encoding, Handler.defaultReply)
    const runFor = yield* seconds("duration", options.duration, false)
    const holdFor = yield* seconds("hold-wait", options.holdWait, true)
    const timeoutAfter = yield* seconds("timeout", options.timeout, false)
    const result = yield* Bench.run({
      host: options.host,
      port: options.port,
      mode: options.mode,
      connections: options.connections,
      duration: runFor,
      message: messageBytes,
      expect: expectBytes,
      holdWait: holdFor,
      timeout: timeoutAfter,
      onProgress: options.json ? undefined : (progress) => Console.error(formatProgress(progress))
    })
    if (!options.json) yield* Console.log(formatSummary(result))
    yield* Console.log(formatJson(result))
    if (result.replies === 0 && result.errors > 0) {
      return yield* new NoReplyError({
        host: result.host,
        port: result.port,
        errors: result.errors,
        errorKinds: result.errorKinds
      })
    }
  })).pipe(
    Command.withDescription(
      "Load a server: many connections send a message and check every reply; prints replies per second, " +
        "latency percentiles and errors."
    )
  )
