import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import type { ConnectionFailure, Handler } from "../Connection.js"
import * as Encoding from "../Encoding.js"
import * as Framing from "../Framing.js"
import * as HandlerModule from "../Handler.js"
import type { Options, StartError } from "../TcpServer.js"
import * as Admission from "./admission.js"
import type * as Server from "./server.js"

/**
 * An option with a value the server cannot use; the service turns it into its public error.
 *
 * @internal
 */
export interface OptionProblem {
  readonly _tag: "OptionProblem"
  readonly option: string
  readonly value: string
  readonly expected: string
}

const systemBacklog = (): number => {
  try {
    const value = Number(Fs.readFileSync("/proc/sys/net/core/somaxconn", "utf8").trim())
    return Number.isSafeInteger(value) && value > 0 ? value : 511
  } catch {
    return 511
  }
}

/** @internal */
export const defaults = {
  host: "0.0.0.0",
  port: 9090,
  backlog: systemBacklog(),
  encoding: "gbk",
  maxConnections: 10_000,
  idleTimeout: Duration.minutes(5),
  highWaterMark: 64 * 1024,
  writeTimeout: Duration.seconds(30),
  shutdownGrace: Duration.seconds(3)
} as const

const optionError = (option: string, value: unknown, expected: string): OptionProblem => ({
  _tag: "OptionProblem",
  option,
  value: String(value),
  expected
})

// Node's timers fire at once beyond this (about 24.8 days).
const maxTimerMillis = 2 ** 31 - 1

/**
 * One rule for every duration: 0 is off (`undefined`) where `zeroIsOff`, a negative, non-finite or unreadable
 * duration is an error, and so is one too long for a timer.
 */
const duration = (
  option: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration | undefined,
  zeroIsOff: boolean
): Effect.Effect<Duration.Duration | undefined, OptionProblem> => {
  if (input === undefined) return Effect.succeed(fallback)
  const expected = `a duration from 0 to 24 days${zeroIsOff ? " (0 turns it off)" : ""}, such as "30 seconds"`
  const negative = typeof input === "number"
    ? !(input >= 0)
    : typeof input === "bigint"
    ? input < 0n
    : typeof input === "string"
    ? /^\s*-/.test(input)
    : false
  const decoded = Duration.decodeUnknown(input)
  if (negative || decoded._tag === "None" || !Duration.isFinite(decoded.value)) {
    return Effect.fail(optionError(option, input, expected))
  }
  const millis = Duration.toMillis(decoded.value)
  if (millis > maxTimerMillis) return Effect.fail(optionError(option, input, expected))
  return Effect.succeed(zeroIsOff && millis === 0 ? undefined : decoded.value)
}

const ranges = (option: string, values: ReadonlyArray<string> | undefined, emptyIsError: boolean) => {
  if (values === undefined) return Effect.succeed(undefined)
  const entries = values.map((value) => value.trim()).filter((value) => value.length > 0)
  if (entries.length === 0) {
    return emptyIsError
      ? Effect.fail(
        optionError(option, values.join(","), "at least one address or CIDR range (an empty list would serve everyone)")
      )
      : Effect.succeed(undefined)
  }
  const parsed = Admission.parseRanges(entries)
  return parsed._tag === "Right" ? Effect.succeed(parsed.list) : Effect.fail(
    optionError(
      option,
      parsed.invalid,
      "an IPv4 or IPv6 address or CIDR range, such as 10.0.0.0/8, 192.168.1.7 or fd00::/8"
    )
  )
}

const positiveInteger = (option: string, value: number | undefined) =>
  value === undefined || (Number.isSafeInteger(value) && value > 0)
    ? Effect.succeed(value)
    : Effect.fail(optionError(option, value, "a whole number above 0"))

const text = (what: string, value: string | undefined, encoding: string) =>
  value === undefined || value.length === 0
    ? Effect.succeed(undefined)
    : Encoding.encodeAll(value, encoding, what)

/**
 * Checks every option and fills in the defaults: what the run loop needs, or the first problem found.
 *
 * @internal
 */
export const resolve = <E, R>(
  options: Options<E, R>
): Effect.Effect<
  Omit<Server.Options<E | ConnectionFailure, R>, "readiness">,
  OptionProblem | StartError
> =>
  Effect.gen(function*() {
    const encoding = yield* Encoding.validate(options.encoding ?? defaults.encoding)
    const framing = yield* Framing.validate(options.framing ?? Framing.chunk, encoding)
    const handler: Handler<E | ConnectionFailure, R> = options.handler ??
      (yield* Effect.as(
        Encoding.encodeAll(HandlerModule.defaultReply, encoding, "tutorial's reply"),
        HandlerModule.tutorial()
      ))
    const highWaterMark = (yield* positiveInteger("high-water mark", options.highWaterMark)) ??
      defaults.highWaterMark
    const writeTimeout = yield* duration("write timeout", options.writeTimeout, defaults.writeTimeout, true)
    const port = options.port ?? defaults.port
    if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
      return yield* Effect.fail(optionError("port", port, "a whole number from 0 to 65535"))
    }
    return {
      listen: {
        host: options.host ?? defaults.host,
        port,
        backlog: (yield* positiveInteger("backlog", options.backlog)) ?? defaults.backlog,
        highWaterMark
      },
      admission: {
        maxConnections: (yield* positiveInteger("max connections", options.maxConnections)) ??
          defaults.maxConnections,
        maxConnectionsPerIp: yield* positiveInteger("max connections per IP", options.maxConnectionsPerIp),
        allow: yield* ranges("allow range", options.allow, true),
        deny: yield* ranges("deny range", options.deny, false)
      },
      connection: {
        encoding,
        framing,
        decodeErrors: options.decodeErrors ?? "replace",
        counters: { oversized: 0, decodeErrors: 0 },
        replyEnding: options.replyEnding === undefined ? undefined : Buffer.from(options.replyEnding, "latin1"),
        idleTimeout: yield* duration("idle timeout", options.idleTimeout, defaults.idleTimeout, true),
        writeTimeout,
        closeTimeoutMillis: Duration.toMillis(writeTimeout ?? defaults.writeTimeout),
        goodbye: yield* text("goodbye text", options.goodbye, encoding)
      },
      busy: yield* text("busy text", options.busyText, encoding),
      maxAge: yield* duration("maximum connection age", options.maxConnectionAge, undefined, true),
      shutdownGrace: (yield* duration("shutdown grace", options.shutdownGrace, defaults.shutdownGrace, false)) ??
        Duration.zero,
      handler
    }
  })
