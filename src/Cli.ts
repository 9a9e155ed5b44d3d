/**
 * The `effect-tcp-server` command line. Flags win over environment variables, which win over the defaults.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import * as BenchCli from "./bench/BenchCli.js"
import * as ConnectCli from "./ConnectCli.js"
import type * as Connection from "./Connection.js"
import * as Encoding from "./Encoding.js"
import * as Framing from "./Framing.js"
import * as Handler from "./Handler.js"
import * as TcpServer from "./TcpServer.js"

/**
 * @since 0.1.0
 * @category options
 */
export const host = Options.text("host").pipe(
  Options.withDescription(
    "Address to listen on; 0.0.0.0 is every IPv4 interface, :: every interface. Env TCP_SERVER_HOST."
  ),
  Options.withFallbackConfig(Config.string("TCP_SERVER_HOST")),
  Options.withDefault(TcpServer.defaults.host)
)

/**
 * @since 0.1.0
 * @category options
 */
export const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("Port to listen on; 0 picks a free one. Env TCP_SERVER_PORT."),
  Options.withFallbackConfig(Config.integer("TCP_SERVER_PORT")),
  Options.withDefault(TcpServer.defaults.port)
)

/**
 * @since 0.1.0
 * @category options
 */
export const backlog = Options.integer("backlog").pipe(
  Options.withDescription("Connections the kernel may queue before they are accepted. Env TCP_SERVER_BACKLOG."),
  Options.withFallbackConfig(Config.integer("TCP_SERVER_BACKLOG")),
  Options.withDefault(TcpServer.defaults.backlog)
)

/**
 * @since 0.1.0
 * @category options
 */
export const encoding = Options.text("encoding").pipe(
  Options.withAlias("e"),
  Options.withDescription(
    "Encoding of the clients' text, any iconv-lite encoding (see the encodings command). Env TCP_SERVER_ENCODING."
  ),
  Options.withFallbackConfig(Config.string("TCP_SERVER_ENCODING")),
  Options.withDefault(TcpServer.defaults.encoding)
)

/**
 * @since 0.1.0
 * @category options
 */
export const reply = Options.text("reply").pipe(
  Options.withDescription("Text sent back for every message received. Env TCP_SERVER_REPLY."),
  Options.withFallbackConfig(Config.string("TCP_SERVER_REPLY")),
  Options.withDefault(Handler.defaultReply)
)

/**
 * @since 0.1.0
 * @category options
 */
export const quiet = Options.boolean("quiet").pipe(
  Options.withAlias("q"),
  Options.withDescription("Log only warnings and errors, not a line per connection and message. Env TCP_SERVER_QUIET."),
  Options.withFallbackConfig(Config.boolean("TCP_SERVER_QUIET")),
  Options.withDefault(false)
)

const withEnv = <A>(
  option: Options.Options<A>,
  description: string,
  env: string,
  config: (name: string) => Config.Config<A>,
  fallback: A
) =>
  option.pipe(
    Options.withDescription(`${description} Env ${env}.`),
    Options.withFallbackConfig(config(env)),
    Options.withDefault(fallback)
  )

/**
 * @since 0.1.0
 * @category options
 */
export const maxConnections = withEnv(
  Options.integer("max-connections"),
  "Connections open at once; one more is refused (and logged).",
  "TCP_SERVER_MAX_CONNECTIONS",
  Config.integer,
  TcpServer.defaults.maxConnections
)

/**
 * @since 0.1.0
 * @category options
 */
export const maxConnectionsPerIp = withEnv(
  Options.integer("max-connections-per-ip"),
  "Connections open at once from one address; 0 is unlimited.",
  "TCP_SERVER_MAX_CONNECTIONS_PER_IP",
  Config.integer,
  0
)

/**
 * @since 0.1.0
 * @category options
 */
export const allow = withEnv(
  Options.text("allow"),
  "Comma-separated CIDR ranges or addresses (IPv4 or IPv6); if set, only these clients are served.",
  "TCP_SERVER_ALLOW",
  Config.string,
  ""
)

/**
 * @since 0.1.0
 * @category options
 */
export const deny = withEnv(
  Options.text("deny"),
  "Comma-separated CIDR ranges or addresses refused; wins over --allow.",
  "TCP_SERVER_DENY",
  Config.string,
  ""
)

/**
 * @since 0.1.0
 * @category options
 */
export const busyText = withEnv(
  Options.text("busy-text"),
  "Text sent to a refused client before its connection is closed; empty sends nothing.",
  "TCP_SERVER_BUSY_TEXT",
  Config.string,
  ""
)

/**
 * @since 0.1.0
 * @category options
 */
export const idleTimeout = withEnv(
  Options.float("idle-timeout"),
  "Seconds without input after which a connection is closed; 0 disables it.",
  "TCP_SERVER_IDLE_TIMEOUT",
  Config.number,
  Duration.toSeconds(TcpServer.defaults.idleTimeout)
)

/**
 * @since 0.1.0
 * @category options
 */
export const maxConnectionAge = withEnv(
  Options.float("max-connection-age"),
  "Seconds after which any connection is closed; 0 is unlimited.",
  "TCP_SERVER_MAX_CONNECTION_AGE",
  Config.number,
  0
)

/**
 * @since 0.1.0
 * @category options
 */
export const writeTimeout = withEnv(
  Options.float("write-timeout"),
  "Seconds a client may leave the server's output unread, with its 64 KiB buffer full, before it is closed.",
  "TCP_SERVER_WRITE_TIMEOUT",
  Config.number,
  Duration.toSeconds(TcpServer.defaults.writeTimeout)
)

/**
 * @since 0.1.0
 * @category options
 */
export const shutdownGrace = withEnv(
  Options.float("shutdown-grace"),
  "Seconds connections get on shutdown to finish and flush before they are closed.",
  "TCP_SERVER_SHUTDOWN_GRACE",
  Config.number,
  Duration.toSeconds(TcpServer.defaults.shutdownGrace)
)

/**
 * @since 0.1.0
 * @category options
 */
export const goodbye = withEnv(
  Options.text("goodbye"),
  "Text sent to every client when a shutdown closes its connection; empty sends nothing.",
  "TCP_SERVER_GOODBYE",
  Config.string,
  ""
)

/**
 * @since 0.1.0
 * @category options
 */
export const stats = withEnv(
  Options.float("stats"),
  "Print a stats line (connections, memory) on stderr every this many seconds; 0 never.",
  "TCP_SERVER_STATS",
  Config.number,
  0
)

/**
 * @since 0.1.0
 * @category options
 */
export const framing = withEnv(
  Options.choice("framing", ["chunk", "line", "delimiter", "length"]),
  "How input is cut into messages: chunk (one per read, as the tutorial), line (LF or CRLF), delimiter (--delimiter) or length (a big-endian --length-bytes prefix).",
  "TCP_SERVER_FRAMING",
  (name) => Config.literal("chunk", "line", "delimiter", "length")(name),
  "chunk"
)

/**
 * @since 0.1.0
 * @category options
 */
export const maxFrameBytes = withEnv(
  Options.integer("max-frame-bytes"),
  "Longest frame in bytes (line, delimiter, length framing); a longer one is a frame error.",
  "TCP_SERVER_MAX_FRAME_BYTES",
  Config.integer,
  Framing.defaultMaxFrameBytes
)

/**
 * @since 0.1.0
 * @category options
 */
export const delimiterText = withEnv(
  Options.text("delimiter"),
  "The delimiter of --framing delimiter, with escapes such as \\x03 or \\r\\n; refused if its bytes can occur inside a character of the encoding.",
  "TCP_SERVER_DELIMITER",
  Config.string,
  "\\x03"
)

/**
 * @since 0.1.0
 * @category options
 */
export const lengthBytes = withEnv(
  Options.choice("length-bytes", ["1", "2", "4"]),
  "Size of the length prefix of --framing length.",
  "TCP_SERVER_LENGTH_BYTES",
  (name) => Config.literal("1", "2", "4")(name),
  "2"
)

/**
 * @since 0.1.0
 * @category options
 */
export const frameErrors = withEnv(
  Options.choice("frame-errors", ["skip", "close"]),
  "What a frame error (too long, or undecodable with --decode-errors fatal) does: skip the frame or close the connection. Logged and counted either way.",
  "TCP_SERVER_FRAME_ERRORS",
  (name) => Config.literal("skip", "close")(name),
  "skip"
)

/**
 * @since 0.1.0
 * @category options
 */
export const decodeErrors = withEnv(
  Options.choice("decode-errors", ["replace", "fatal"]),
  "Bytes invalid in the encoding: replace them with U+FFFD, or make the frame a frame error. Counted either way.",
  "TCP_SERVER_DECODE_ERRORS",
  (name) => Config.literal("replace", "fatal")(name),
  "replace"
)

/**
 * @since 0.1.0
 * @category options
 */
export const replyEnding = withEnv(
  Options.choice("reply-ending", ["same", "lf", "crlf"]),
  "Line ending of replies in line framing: the one the client used (same), LF or CRLF.",
  "TCP_SERVER_REPLY_ENDING",
  (name) => Config.literal("same", "lf", "crlf")(name),
  "same"
)

/**
 * @since 0.1.0
 * @category options
 */
export const display = withEnv(
  Options.choice("display", ["text", "hex", "both"]),
  "What is logged of each message: its text, its bytes in hex, or both.",
  "TCP_SERVER_DISPLAY",
  (name) => Config.literal("text", "hex", "both")(name),
  "text"
)

/**
 * @since 0.1.0
 * @category options
 */
export const echo = withEnv(
  Options.boolean("echo"),
  "Reply with the message itself instead of --reply.",
  "TCP_SERVER_ECHO",
  Config.boolean,
  false
)

/**
 * @since 0.1.0
 * @category options
 */
export const noReply = withEnv(
  Options.boolean("no-reply"),
  "Do not reply; only log.",
  "TCP_SERVER_NO_REPLY",
  Config.boolean,
  false
)

const list = (text: string): ReadonlyArray<string> =>
  text.split(",").map((part) => part.trim()).filter((part) => part.length > 0)

const orUndefined = <A>(value: A, none: A): A | undefined => value === none ? undefined : value

const toFraming = (
  options: Command.Command.ParseConfig<typeof serveOptions>
): Effect.Effect<Framing.Framing, Framing.DelimiterError> => {
  const limits = { maxFrameBytes: options.maxFrameBytes, onOversized: options.frameErrors }
  switch (options.framing) {
    case "chunk":
      return Effect.succeed(Framing.chunk)
    case "line":
      return Effect.succeed(Framing.line(limits))
    case "delimiter":
      return Effect.map(Framing.parseDelimiter(options.delimiter), (bytes) => Framing.delimiter(bytes, limits))
    case "length": {
      const lengthBytes = options.lengthBytes === "1" ? 1 : options.lengthBytes === "2" ? 2 : 4
      // The default maximum means "as long as the prefix allows" when the prefix cannot announce 64 KiB.
      return Effect.succeed(Framing.length(
        lengthBytes,
        options.maxFrameBytes === Framing.defaultMaxFrameBytes ? { onOversized: options.frameErrors } : limits
      ))
    }
  }
}

/**
 * Turns parsed `serve` flags into {@link TcpServer.ServeOptions}.
 *
 * @since 0.1.0
 * @category options
 */
export const toServeOptions = (
  options: Command.Command.ParseConfig<typeof serveOptions>
): Effect.Effect<
  TcpServer.Options<Connection.ConnectionFailure>,
  Framing.DelimiterError | Encoding.UnknownEncodingError | Encoding.UnencodableTextError
> =>
  Effect.zipLeft(
    toFraming(options),
    options.noReply || options.echo ? Effect.void : Effect.flatMap(
      Encoding.validate(options.encoding),
      (encoding) => Encoding.encodeAll(options.reply, encoding, "reply")
    )
  ).pipe(Effect.map((framing) => ({
    host: options.host,
    port: options.port,
    backlog: options.backlog,
    encoding: options.encoding,
    maxConnections: options.maxConnections,
    maxConnectionsPerIp: orUndefined(options.maxConnectionsPerIp, 0),
    allow: options.allow === "" ? undefined : list(options.allow),
    deny: list(options.deny),
    busyText: orUndefined(options.busyText, ""),
    idleTimeout: Duration.seconds(options.idleTimeout),
    maxConnectionAge: Duration.seconds(options.maxConnectionAge),
    writeTimeout: Duration.seconds(options.writeTimeout),
    shutdownGrace: Duration.seconds(options.shutdownGrace),
    goodbye: orUndefined(options.goodbye, ""),
    framing,
    decodeErrors: options.decodeErrors,
    replyEnding: options.replyEnding === "lf" ? "\n" : options.replyEnding === "crlf" ? "\r\n" : undefined,
    handler: Handler.tutorial({
      reply: options.reply,
      display: options.display,
      answer: options.noReply ? "none" : options.echo ? "echo" : "reply"
    })
  })))

/**
 * The options of `serve`, parsed.
 *
 * @since 0.1.0
 * @category options
 */
export const serveOptions = {
  host,
  port,
  backlog,
  encoding,
  reply,
  quiet,
  maxConnections,
  maxConnectionsPerIp,
  allow,
  deny,
  busyText,
  idleTimeout,
  maxConnectionAge,
  writeTimeout,
  shutdownGrace,
  goodbye,
  stats,
  framing,
  maxFrameBytes,
  delimiter: delimiterText,
  lengthBytes,
  frameErrors,
  decodeErrors,
  replyEnding,
  display,
  echo,
  noReply
}

/**
 * `serve`: runs the server until interrupted (Ctrl-C or SIGTERM).
 *
 * @since 0.1.0
 * @category commands
 */
export const serve = Command.make("serve", serveOptions, (options) =>
  Effect.gen(function*() {
    const server = yield* TcpServer.TcpServer
    const { host, port } = server.address
    yield* Console.log(`effect-tcp-server listening on ${host}:${port} (encoding ${options.encoding})`)
    if (options.stats > 0) {
      yield* server.stats.pipe(
        Effect.flatMap((stats) => {
          const rss = Math.round(process.memoryUsage.rss() / 1024 / 1024)
          return Console.error(
            `stats: active=${stats.active} accepted=${stats.accepted} refused=${stats.refused} rss=${rss}MiB`
          )
        }),
        Effect.repeat(Schedule.spaced(Duration.seconds(options.stats))),
        Effect.forkScoped
      )
    }
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.unwrapEffect(Effect.map(toServeOptions(options), TcpServer.layer))),
    options.quiet ? Logger.withMinimumLogLevel(LogLevel.Warning) : identity
  )).pipe(
    Command.withDescription("Accept TCP clients, log what they send and reply to every message.")
  )

/**
 * `encodings`: lists the encoding names `--encoding` accepts.
 *
 * @since 0.1.0
 * @category commands
 */
export const encodings = Command.make("encodings", {}, () => Console.log(Encoding.supported().join("\n"))).pipe(
  Command.withDescription("List the encodings --encoding accepts.")
)

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("effect-tcp-server").pipe(
  Command.withDescription("A multi-client TCP server that speaks GBK and any other iconv-lite encoding."),
  Command.withSubcommands([serve, encodings, BenchCli.bench, ConnectCli.connect])
)

/**
 * Runs the command line on `argv` (as `process.argv`: the first two entries are skipped).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (version: string) => Command.run(command, { name: "effect-tcp-server", version })
