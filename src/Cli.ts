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
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import * as Encoding from "./Encoding.js"
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
  Options.withDefault(TcpServer.defaults.reply)
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

const list = (text: string): ReadonlyArray<string> =>
  text.split(",").map((part) => part.trim()).filter((part) => part.length > 0)

const orUndefined = <A>(value: A, none: A): A | undefined => value === none ? undefined : value

/**
 * Turns parsed `serve` flags into {@link TcpServer.ServeOptions}.
 *
 * @since 0.1.0
 * @category options
 */
export const toServeOptions = (options: Command.Command.ParseConfig<typeof serveOptions>): TcpServer.ServeOptions => ({
  host: options.host,
  port: options.port,
  backlog: options.backlog,
  encoding: options.encoding,
  reply: options.reply,
  maxConnections: options.maxConnections,
  maxConnectionsPerIp: orUndefined(options.maxConnectionsPerIp, 0),
  allow: list(options.allow),
  deny: list(options.deny),
  busyText: orUndefined(options.busyText, ""),
  idleTimeout: Duration.seconds(options.idleTimeout),
  maxConnectionAge: Duration.seconds(options.maxConnectionAge),
  writeTimeout: Duration.seconds(options.writeTimeout),
  shutdownGrace: Duration.seconds(options.shutdownGrace),
  goodbye: orUndefined(options.goodbye, "")
})

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
  stats
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
    Effect.provide(TcpServer.layer(toServeOptions(options))),
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
  Command.withSubcommands([serve, encodings])
)

/**
 * Runs the command line on `argv` (as `process.argv`: the first two entries are skipped).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (version: string) => Command.run(command, { name: "effect-tcp-server", version })
