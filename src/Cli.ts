/**
 * The `effect-tcp-server` command line. Flags win over environment variables, which win over the defaults;
 * the flags of `serve` are defined once, in `cli/options.ts`.
 *
 * Longer than the ~400 lines the house style aims for: it holds the `serve` command (flag checks that need
 * several flags at once, the server options built from them, the start line) next to the command tree, the pieces
 * the tests exercise as one public module. The parts that stand alone already live in `cli/`.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as BenchCli from "./bench/BenchCli.js"
import * as Argv from "./cli/argv.js"
import * as Errors from "./cli/errors.js"
import * as Flag from "./cli/flag.js"
import * as Help from "./cli/help.js"
import * as Observe from "./cli/observe.js"
import * as Flags from "./cli/options.js"
import * as Signals from "./cli/signals.js"
import * as ConnectCli from "./ConnectCli.js"
import type { ConnectionFailure } from "./Connection.js"
import * as Encoding from "./Encoding.js"
import * as Framing from "./Framing.js"
import * as Handler from "./Handler.js"
import * as TcpServer from "./TcpServer.js"

const flag = Flag.toOption
const { serve: table } = Flags

/**
 * The flags of `serve`, parsed: each value with where it came from.
 *
 * @since 0.1.0
 * @category options
 */
export type Parsed = { readonly [K in keyof typeof table]: Flag.Given<Flag.ValueOf<(typeof table)[K]>> }

const parsedOptions: Options.Options<Parsed> = Options.all({
  host: flag(table.host),
  port: flag(table.port),
  backlog: flag(table.backlog),
  encoding: flag(table.encoding),
  framing: flag(table.framing),
  delimiter: flag(table.delimiter),
  lengthBytes: flag(table.lengthBytes),
  maxFrameBytes: flag(table.maxFrameBytes),
  frameErrors: flag(table.frameErrors),
  decodeErrors: flag(table.decodeErrors),
  reply: flag(table.reply),
  echo: flag(table.echo),
  noReply: flag(table.noReply),
  replyEnding: flag(table.replyEnding),
  maxConnections: flag(table.maxConnections),
  maxConnectionsPerIp: flag(table.maxConnectionsPerIp),
  allow: flag(table.allow),
  deny: flag(table.deny),
  busyText: flag(table.busyText),
  idleTimeout: flag(table.idleTimeout),
  maxConnectionAge: flag(table.maxConnectionAge),
  writeTimeout: flag(table.writeTimeout),
  shutdownGrace: flag(table.shutdownGrace),
  goodbye: flag(table.goodbye),
  quiet: flag(table.quiet),
  logLevel: flag(table.logLevel),
  logFormat: flag(table.logFormat),
  logFile: flag(table.logFile),
  display: flag(table.display),
  stats: flag(table.stats),
  metricsPort: flag(table.metricsPort),
  metricsHost: flag(table.metricsHost),
  otlpEndpoint: flag(table.otlpEndpoint)
})

const isSet = (given: Flag.Given<unknown>) => given.source !== "default"
const named = <A>(definition: Flag.Flag<A>, given: Flag.Given<A>) => Flag.origin(definition, given.source)

/**
 * The pairs of settings that cannot go together, each as the problem to report.
 *
 * @since 0.1.0
 * @category options
 */
export const contradictions = (options: Parsed): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const framing = options.framing.value
  const needs = <A>(definition: Flag.Flag<A>, given: Flag.Given<A>, ok: boolean, wanted: string) => {
    if (isSet(given) && !ok) {
      problems.push(`${named(definition, given)} applies only to --framing ${wanted}, and the framing is ${framing}`)
    }
  }
  needs(table.delimiter, options.delimiter, framing === "delimiter", "delimiter")
  needs(table.lengthBytes, options.lengthBytes, framing === "length", "length")
  needs(table.replyEnding, options.replyEnding, framing === "line", "line")
  needs(table.maxFrameBytes, options.maxFrameBytes, framing !== "chunk", "line, delimiter or length")
  needs(table.frameErrors, options.frameErrors, framing !== "chunk", "line, delimiter or length")
  const { echo, noReply, quiet, reply } = options
  if (echo.value && noReply.value) {
    problems.push(`${named(table.echo, echo)} and ${named(table.noReply, noReply)} contradict each other: choose one`)
  }
  if (isSet(reply) && (echo.value || noReply.value)) {
    const other = echo.value ? named(table.echo, echo) : named(table.noReply, noReply)
    problems.push(`${named(table.reply, reply)} is never sent with ${other}: drop one of them`)
  }
  if (quiet.value && isSet(options.logLevel) && options.logLevel.value !== "warning") {
    problems.push(
      `${named(table.quiet, quiet)} means log level warning, and ${
        named(table.logLevel, options.logLevel)
      } says ${options.logLevel.value}: choose one`
    )
  }
  return problems
}

/**
 * The texts the server sends (`--reply` unless `--echo` or `--no-reply`, `--goodbye`, `--busy-text`), checked
 * to be representable in the encoding, each named as the user set it.
 *
 * @since 0.1.0
 * @category options
 */
export const checkTexts = (options: Parsed): Effect.Effect<void, Encoding.UnencodableTextError> => {
  const encoding = options.encoding.value
  const check = (definition: Flag.Flag<string>, given: Flag.Given<string>) =>
    given.value === ""
      ? Effect.void
      : Encoding.encodeAll(
        given.value,
        encoding,
        given.source === "default" ? `default ${named(definition, given)}` : named(definition, given)
      )
  return Effect.all([
    options.echo.value || options.noReply.value ? Effect.void : check(table.reply, options.reply),
    check(table.goodbye, options.goodbye),
    check(table.busyText, options.busyText)
  ], { discard: true })
}

/**
 * The options of `serve`: every flag with where its value came from, checked one by one and together.
 *
 * @since 0.1.0
 * @category options
 */
export const serveOptions: Options.Options<Parsed> = parsedOptions.pipe(
  Options.mapEffect((options) => {
    const [problem] = contradictions(options)
    return problem === undefined
      ? checkTexts(options).pipe(
        Effect.as(options),
        Effect.mapError((error) => ValidationError.invalidValue(HelpDoc.p(error.message)))
      )
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(problem)))
  })
)

const toFraming = (options: Parsed): Framing.Framing => {
  const frameLimits = { maxFrameBytes: options.maxFrameBytes.value, onOversized: options.frameErrors.value }
  switch (options.framing.value) {
    case "chunk":
      return Framing.chunk
    case "line":
      return Framing.line(frameLimits)
    case "delimiter":
      return Framing.delimiter(options.delimiter.value.bytes, frameLimits)
    case "length": {
      const lengthBytes = options.lengthBytes.value === "1" ? 1 : options.lengthBytes.value === "2" ? 2 : 4
      // Without --max-frame-bytes, a prefix that cannot announce the default maximum allows what it can announce.
      return Framing.length(
        lengthBytes,
        options.maxFrameBytes.source === "default" ? { onOversized: options.frameErrors.value } : frameLimits
      )
    }
  }
}

/**
 * Turns parsed `serve` flags into the server's options, with the tutorial handler made from `--reply`,
 * `--echo`, `--no-reply` and `--display`.
 *
 * @since 0.1.0
 * @category options
 */
export const toServeOptions = (options: Parsed): TcpServer.Options<ConnectionFailure> => ({
  host: options.host.value,
  port: options.port.value,
  backlog: options.backlog.value,
  encoding: options.encoding.value,
  maxConnections: options.maxConnections.value,
  maxConnectionsPerIp: options.maxConnectionsPerIp.value === 0 ? undefined : options.maxConnectionsPerIp.value,
  // The library refuses an empty allow list: unset is `undefined`.
  allow: options.allow.source === "default" ? undefined : options.allow.value,
  deny: options.deny.source === "default" ? undefined : options.deny.value,
  busyText: options.busyText.value === "" ? undefined : options.busyText.value,
  idleTimeout: options.idleTimeout.value,
  maxConnectionAge: options.maxConnectionAge.value,
  writeTimeout: options.writeTimeout.value,
  shutdownGrace: options.shutdownGrace.value,
  goodbye: options.goodbye.value === "" ? undefined : options.goodbye.value,
  framing: toFraming(options),
  decodeErrors: options.decodeErrors.value,
  replyEnding: options.replyEnding.value === "lf" ? "\n" : options.replyEnding.value === "crlf" ? "\r\n" : undefined,
  handler: Handler.tutorial({
    reply: options.reply.value,
    answer: options.noReply.value ? "none" : options.echo.value ? "echo" : "reply",
    display: options.display.value
  })
})

const logLevels = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error
} as const

/**
 * The least important log level `serve` shows: `--log-level`, or warning with `--quiet`.
 *
 * @since 0.1.0
 * @category options
 */
export const logLevel = (options: Parsed): LogLevel.LogLevel =>
  options.quiet.value ? LogLevel.Warning : logLevels[options.logLevel.value]

/**
 * `host:port`, with an IPv6 host in brackets: `[::]:9090`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatAddress = (address: { readonly host: string; readonly port: number }): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/**
 * The line `serve` prints once listening: `effect-tcp-server listening on [::]:9307 (encoding gbk, framing
 * chunk)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const startLine = (address: TcpServer.Address, options: Parsed): string => {
  const framing = options.framing.value === "delimiter"
    ? `delimiter ${options.delimiter.value.text}`
    : options.framing.value === "length"
    ? `length, ${options.lengthBytes.value}-byte prefix`
    : options.framing.value
  return `effect-tcp-server listening on ${
    formatAddress(address)
  } (encoding ${options.encoding.value}, framing ${framing})`
}

const printStats = (server: TcpServer.TcpServer["Type"]) =>
  Effect.flatMap(server.stats, (stats) => {
    const rss = Math.round(process.memoryUsage.rss() / 1024 / 1024)
    return Console.error(
      `stats: active=${stats.active} accepted=${stats.accepted} refused=${stats.refused} rss=${rss}MiB`
    )
  })

// Settings the server refuses at start are usage errors too: they come from the command line or the environment.
// Only a failure to listen (TCP or metrics) or to open the log file is a runtime error.
const runtimeErrors: ReadonlyArray<string> = ["TcpServerError", "MetricsServerError", "LineLoggerError"]
const startErrorToUsage = <E extends { readonly _tag: string; readonly message: string }>(
  error: E
): E | Errors.UsageError =>
  runtimeErrors.includes(error._tag) ? error : new Errors.UsageError({ problem: error.message, command: "serve" })

const observability = (options: Parsed): Observe.Settings => ({
  logFormat: options.logFormat.value,
  logFile: options.logFile.value,
  metricsPort: options.metricsPort.value,
  metricsHost: options.metricsHost.value,
  otlpEndpoint: options.otlpEndpoint.value
})

/**
 * `serve`: runs the server until interrupted (Ctrl-C or SIGTERM).
 *
 * @since 0.1.0
 * @category commands
 */
export const serve = Command.make("serve", { options: serveOptions }, ({ options }) => {
  const settings = observability(options)
  // With json or logfmt, stdout holds only records: the start lines go to stderr.
  const announce = settings.logFormat === "tutorial" ? Console.log : Console.error
  return Effect.gen(function*() {
    // SIGHUP needs no server: handled from the start, it can never kill the process before it is listening.
    yield* Signals.on("SIGHUP", Signals.hangup)
    yield* Effect.gen(function*() {
      const server = yield* TcpServer.TcpServer
      yield* announce(startLine(server.address, options))
      const metrics = yield* Observe.MetricsAddress
      if (Option.isSome(metrics)) yield* announce(`metrics on http://${formatAddress(metrics.value)}/metrics`)
      yield* Signals.on("SIGUSR1", printStats(server))
      if (Duration.toMillis(options.stats.value) > 0) {
        yield* printStats(server).pipe(Effect.repeat(Schedule.spaced(options.stats.value)), Effect.forkScoped)
      }
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      // Built inside the tracer's layer, which is released after it: the last spans are sent.
      Effect.provide(Observe.withMetrics(settings, TcpServer.layer(toServeOptions(options)))),
      Effect.provide(Observe.tracing(settings))
    )
  }).pipe(
    Effect.scoped,
    // The logger is released last: every line of the shutdown is written.
    Effect.provide(Observe.logging(settings)),
    Effect.mapError(startErrorToUsage),
    Logger.withMinimumLogLevel(logLevel(options))
  )
}).pipe(
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
 * The subcommands. `effect-tcp-server --help` lists them in the order of {@link summaries}, which must have a line
 * for each.
 *
 * @since 0.1.0
 * @category commands
 */
export const subcommands = [serve, encodings, BenchCli.bench, ConnectCli.connect] as const

/**
 * What each subcommand does, in the few words of `effect-tcp-server --help`.
 *
 * @since 0.1.0
 * @category commands
 */
export const summaries: Readonly<Record<string, string>> = {
  serve: "accept TCP clients, log their messages and reply to each",
  connect: "talk to a server from this terminal, in the server's encoding",
  bench: "load a server and report replies per second and latency",
  encodings: "list the encodings --encoding accepts"
}

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("effect-tcp-server").pipe(
  Command.withDescription("A multi-client TCP server that speaks GBK and any other iconv-lite encoding."),
  Command.withSubcommands(subcommands)
)

// The subcommands by name, in the order of `summaries` (then any other).
const described = () => {
  const children = Command.getSubcommands(command)
  const names = [...HashMap.keys(children)]
  return [...Object.keys(summaries).filter((name) => names.includes(name)), ...names.filter((n) => !(n in summaries))]
    .flatMap((name) => Option.toArray(Option.map(HashMap.get(children, name), (descriptor) => ({ name, descriptor }))))
}

// The built-in flags of @effect/cli offered at the top level (its --log-level is offered by `serve` instead).
const topLevelFlags = ["--version", "--completions", "--wizard"]

/**
 * Settings of {@link run}.
 *
 * @since 0.1.0
 * @category running
 */
export interface RunOptions {
  readonly version: string
  /** Colour in the help; the caller checks that stdout is a terminal and `NO_COLOR` is not set. Default off. */
  readonly colour?: boolean | undefined
}

/**
 * Runs the command line on `argv` (as `process.argv`: the first two entries are skipped). Help is printed
 * here, from the flag table; a bad command line fails with one {@link Errors.UsageError}, nothing printed.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (options: RunOptions) => {
  const style: Help.Style = { colour: options.colour ?? false }
  const cli = Command.run(command, { name: "effect-tcp-server", version: options.version })
  return (argv: ReadonlyArray<string>) =>
    Effect.suspend(() => {
      const args = argv.slice(2)
      const [first] = args
      const children = described()
      if (first === undefined || first === "--help" || first === "-h") {
        const commands = children.map(({ name }) => ({ name, summary: summaries[name] ?? "" }))
        return Console.log(Help.top({ version: options.version, commands, style }))
      }
      const subcommand = children.find((child) => child.name === first)
      if (subcommand === undefined) {
        const names = children.map((child) => child.name).join(", ")
        const problem = !first.startsWith("-")
          ? `unknown command "${first}": expected ${names}`
          : !topLevelFlags.includes(first.split("=")[0]!)
          ? `unknown flag ${first.split("=")[0]}: expected a command (${names}), --help or --version`
          : undefined
        if (problem !== undefined) return Effect.fail(new Errors.UsageError({ problem }))
      }
      const name = subcommand?.name
      if (subcommand !== undefined && (args.includes("--help") || args.includes("-h"))) {
        if (name === "serve") return Console.log(Help.serve(style))
        // @effect/cli's own help, for the commands whose flags are not in the table, without its noise.
        const help = HelpDoc.toAnsiText(CommandDescriptor.getHelp(subcommand.descriptor, CliConfig.defaultConfig))
          .replace(/\n+ *This setting is optional\.\n/g, "\n")
        return Console.log(Help.fit(style.colour ? help : Errors.plain(help)))
      }
      const scanned = name === "serve"
        ? Argv.scan(Flags.serveFlags, args.slice(1), ["log-level"])
        : Either.right<Argv.Scanned>({ args: args.slice(1), extracted: new Map() })
      if (Either.isLeft(scanned)) return Effect.fail(new Errors.UsageError({ problem: scanned.left, command: name }))
      const line = [first, ...scanned.right.args]
      // Parsed once without running, so that a bad command line becomes one line here instead of the
      // several @effect/cli would print.
      return CommandDescriptor.parse(command.descriptor, ["effect-tcp-server", ...line], CliConfig.defaultConfig).pipe(
        Effect.mapError((error) => Errors.fromValidationError(error, name)),
        Effect.flatMap((directive) =>
          directive._tag === "UserDefined" && directive.leftover.length > 0
            ? Effect.fail(
              new Errors.UsageError({ problem: `unexpected argument "${directive.leftover[0]}"`, command: name })
            )
            : cli([argv[0] ?? "node", argv[1] ?? "effect-tcp-server", ...line])
        ),
        Effect.locally(Flag.extracted, scanned.right.extracted)
      )
    })
}
