/**
 * `effect-tcp-server bench`: a load generator for this server (or any server that answers every message with a
 * fixed reply), in the spirit of `redis-benchmark`.
 *
 * This module holds only what parsing the command line needs (its flags and payload parsing); the generator
 * itself (`Bench.ts`, `BenchMain.ts`) is loaded with a dynamic `import()` when `bench` runs, so `serve` never
 * loads it.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Encoding from "../Encoding.js"
import * as Handler from "../Handler.js"
import type * as Bench from "./Bench.js"

/**
 * The message sent when neither `--message` nor `--message-hex` is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMessage = "你好"

/**
 * The modes of {@link Bench.Mode}, for `--mode`.
 *
 * @since 0.1.0
 * @category constants
 */
export const modes: ReadonlyArray<Bench.Mode> = ["pingpong", "churn", "hold"]

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
export const mode = Options.choice("mode", modes).pipe(
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
export const warmup = Options.float("warmup").pipe(
  Options.withDescription(
    "Pingpong and churn: seconds of load before counting starts (not counted in --duration). Default 0."
  ),
  Options.withDefault(0)
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
  warmup,
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

/**
 * `bench`: loads a server and reports replies per second, latency percentiles and errors. Progress goes to
 * standard error once a second, the summary and a JSON line to standard output. Fails with
 * `BenchMain.NoReplyError` (after printing the result) when no correct reply came back at all.
 *
 * @since 0.1.0
 * @category commands
 */
export const bench = Command.make("bench", benchOptions, (options) =>
  Effect.gen(function*() {
    const encoding = yield* Encoding.validate(options.encoding)
    const message = yield* payload("message", options.message, options.messageHex, encoding, defaultMessage)
    const expect = yield* payload("expect", options.expect, options.expectHex, encoding, Handler.defaultReply)
    const BenchMain = yield* Effect.promise(() => import("./BenchMain.js"))
    yield* BenchMain.main({
      host: options.host,
      port: options.port,
      mode: options.mode,
      connections: options.connections,
      durationSec: options.duration,
      warmupSec: options.warmup,
      holdWaitSec: options.holdWait,
      timeoutSec: options.timeout,
      message,
      expect,
      json: options.json
    })
  })).pipe(
    Command.withDescription(
      "Load a server: many connections send a message and check every reply; prints replies per second, " +
        "latency percentiles and errors."
    )
  )
