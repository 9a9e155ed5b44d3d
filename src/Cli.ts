/**
 * The `effect-tcp-server` command line. Flags win over environment variables, which win over the defaults.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
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

/**
 * The options of `serve`, parsed.
 *
 * @since 0.1.0
 * @category options
 */
export const serveOptions = { host, port, backlog, encoding, reply, quiet }

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
    return yield* Effect.never
  }).pipe(
    Effect.provide(TcpServer.layer(options)),
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
