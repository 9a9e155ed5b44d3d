/**
 * `effect-tcp-server connect`: a client for servers that speak GBK (or any iconv-lite encoding) from a UTF-8
 * terminal. Each line typed is encoded in the server's encoding, framed if asked and sent; what comes back is
 * decoded and printed, or shown in hex.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import * as Encoding from "./Encoding.js"
import * as Framing from "./Framing.js"
import * as Client from "./internal/connectClient.js"

/**
 * Where `connect` reads the lines to send: standard input unless another stream is provided (as tests do).
 *
 * @since 0.1.0
 * @category services
 */
export class Stdin extends Context.Reference<Stdin>()("effect-tcp-server/ConnectCli/Stdin", {
  defaultValue: (): Readable => process.stdin
}) {}

const describeCause = (cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused"
    case "ENOTFOUND":
      return "unknown host"
    case "EAI_AGAIN":
      return "the host name could not be resolved (temporary DNS failure)"
    case "ETIMEDOUT":
      return "timed out"
    case "EHOSTUNREACH":
      return "no route to host"
    case "ENETUNREACH":
      return "network unreachable"
    case "ECONNRESET":
      return "connection reset by the server"
    case "EPIPE":
      return "the server closed the connection"
  }
  return cause instanceof Error ? cause.message : String(cause)
}

const formatAddress = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

/**
 * The server could not be reached (`Connect`) or the connection failed while in use (`Lost`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly reason: "Connect" | "Lost"
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const address = formatAddress(this.host, this.port)
    return this.reason === "Connect"
      ? `cannot connect to ${address}: ${describeCause(this.cause)}`
      : `the connection to ${address} failed: ${describeCause(this.cause)}`
  }
}

/**
 * Standard input could not be read.
 *
 * @since 0.1.0
 * @category errors
 */
export class InputError extends Data.TaggedError("InputError")<{ readonly cause: unknown }> {
  override get message(): string {
    return `cannot read standard input: ${describeCause(this.cause)}`
  }
}

/**
 * Flags that contradict each other, such as `--delimiter` without `--framing delimiter`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectOptionError extends Data.TaggedError("ConnectOptionError")<{
  readonly option: string
  readonly framing: string
}> {
  override get message(): string {
    return `${this.option} is only used with --framing ${this.framing}: add --framing ${this.framing} or leave it out`
  }
}

const port = Args.integer({ name: "port" }).pipe(
  Args.withDescription("Port of the server."),
  Args.mapEffect((value) =>
    value >= 1 && value <= 65535
      ? Effect.succeed(value)
      : Effect.fail(HelpDoc.p(`invalid port ${value}: expected a whole number from 1 to 65535`))
  )
)

/**
 * The options and arguments of `connect`.
 *
 * @since 0.1.0
 * @category options
 */
export const connectOptions = {
  host: Args.text({ name: "host" }).pipe(Args.withDescription("Name or address of the server.")),
  port,
  encoding: Options.text("encoding").pipe(
    Options.withAlias("e"),
    Options.withDescription("The server's encoding (see the encodings command). Default gbk."),
    Options.withDefault("gbk")
  ),
  framing: Options.choice("framing", ["chunk", "line", "delimiter", "length"]).pipe(
    Options.withDescription(
      "How lines are sent and replies cut: chunk (each line as it is, without its newline; each read of the reply printed on a line), line (LF appended), delimiter (--delimiter appended) or length (a --length-bytes prefix). Default chunk."
    ),
    Options.withDefault("chunk")
  ),
  delimiter: Options.text("delimiter").pipe(
    Options.withDescription("The delimiter of --framing delimiter, with escapes such as \\x03. Default \\x03."),
    Options.optional
  ),
  lengthBytes: Options.choice("length-bytes", ["1", "2", "4"]).pipe(
    Options.withDescription("Size of the length prefix of --framing length. Default 2."),
    Options.optional
  ),
  hex: Options.boolean("hex").pipe(Options.withDescription("Show what comes back as bytes in hex, not as text.")),
  wait: Options.float("wait").pipe(
    Options.withDescription(
      "Once the input has ended, exit after this many seconds without output from the server. Default 1."
    ),
    Options.withDefault(1),
    Options.mapEffect((seconds) =>
      seconds >= 0
        ? Effect.succeed(seconds)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`invalid --wait ${seconds}: expected 0 or more seconds`)))
    )
  )
}

type Parsed = Command.Command.ParseConfig<typeof connectOptions>

const toFraming = (options: Parsed) =>
  Effect.gen(function*() {
    if (options.delimiter._tag === "Some" && options.framing !== "delimiter") {
      return yield* new ConnectOptionError({ option: "--delimiter", framing: "delimiter" })
    }
    if (options.lengthBytes._tag === "Some" && options.framing !== "length") {
      return yield* new ConnectOptionError({ option: "--length-bytes", framing: "length" })
    }
    switch (options.framing) {
      case "chunk":
        return Framing.chunk
      case "line":
        return Framing.line()
      case "delimiter": {
        const text = options.delimiter._tag === "Some" ? options.delimiter.value : "\\x03"
        return Framing.delimiter(yield* Framing.parseDelimiter(text))
      }
      case "length": {
        const size = options.lengthBytes._tag === "Some" ? options.lengthBytes.value : "2"
        return Framing.length(size === "1" ? 1 : size === "2" ? 2 : 4)
      }
    }
  }).pipe(Effect.flatMap((framing) => Framing.validate(framing, options.encoding)))

const isTerminal = (stream: Readable): boolean => "isTTY" in stream && stream.isTTY === true

/**
 * Connects, sends each line of standard input and prints what comes back, until the server closes the
 * connection or, once the input has ended, `wait` seconds pass without output from the server.
 */
const session = Effect.fn("ConnectCli.session")(function*(options: Parsed, framing: Framing.Framing) {
  const { encoding, host, port } = options
  const stdin = yield* Stdin
  const interactive = isTerminal(stdin)
  const socket = yield* Client.open(host, port).pipe(
    Effect.mapError((cause) => new ConnectError({ reason: "Connect", host, port, cause }))
  )
  const lost = (cause: unknown) => new ConnectError({ reason: "Lost", host, port, cause })
  // A socket error (also one raised by a write after the reader has ended) fails the session.
  const failed = yield* Deferred.make<never, ConnectError>()
  socket.on("error", (error) => Deferred.unsafeDone(failed, Exit.fail(lost(error))))

  const print = (outputs: ReadonlyArray<Client.Output>) =>
    Effect.forEach(
      outputs,
      (output) => output._tag === "Reply" ? Console.log(output.text) : Console.error(output.text),
      { discard: true }
    )

  // When the server last sent something (or the input ended): the --wait silence counts from there.
  const lastActivity = yield* Effect.flatMap(Clock.currentTimeMillis, Ref.make)
  const replies = Client.makeReplyReader(framing, encoding, options.hex)
  const receiving = NodeStream.fromReadable<ConnectError, Uint8Array>(() => socket, lost, { closeOnDone: false }).pipe(
    Stream.runForEach((bytes) =>
      Effect.zipRight(
        Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.set(lastActivity, now)),
        print(replies.push(bytes))
      )
    ),
    Effect.zipRight(Effect.suspend(() => print(replies.end()))),
    Effect.zipRight(interactive ? Console.error("the server closed the connection") : Effect.void)
  )

  const sending = NodeStream.fromReadable<InputError, Uint8Array>(() => stdin, (cause) => new InputError({ cause }))
    .pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) =>
        Either.match(Client.frameLine(framing, encoding, line), {
          onLeft: (error): Effect.Effect<void, Framing.FrameTooLongError | ConnectError> => Effect.fail(error),
          onRight: (bytes) => bytes.length === 0 ? Effect.void : Effect.mapError(Client.write(socket, bytes), lost)
        })
      )
    )

  const waitMillis = options.wait * 1000
  const silence: Effect.Effect<void> = Effect.gen(function*() {
    const left = (yield* Ref.get(lastActivity)) + waitMillis - (yield* Clock.currentTimeMillis)
    if (left > 0) yield* Effect.zipRight(Effect.sleep(left), silence)
  })
  const sendThenWait = sending.pipe(
    Effect.zipRight(Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.set(lastActivity, now))),
    Effect.zipRight(silence)
  )

  if (interactive) {
    yield* Console.error(
      `connected to ${formatAddress(host, port)} (encoding ${encoding}, framing ${options.framing}): ` +
        "type a line and press Enter to send it, Ctrl-D to end"
    )
  }
  yield* Effect.raceFirst(receiving, Effect.raceFirst(sendThenWait, Deferred.await(failed)))
})

/**
 * `connect HOST PORT`: an interactive client that encodes what is typed in the server's encoding.
 *
 * @since 0.1.0
 * @category commands
 */
export const connect = Command.make(
  "connect",
  connectOptions,
  (options) =>
    Effect.gen(function*() {
      yield* Encoding.validate(options.encoding)
      const framing = yield* toFraming(options)
      yield* Effect.scoped(session(options, framing))
    })
).pipe(
  Command.withDescription(
    "Send each line typed (or piped) to a TCP server in its encoding, and print its replies decoded."
  )
)
