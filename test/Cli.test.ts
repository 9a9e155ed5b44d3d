import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, HashMap, Option } from "effect"
import * as Cli from "../src/Cli.js"
import * as Errors from "../src/cli/errors.js"
import * as Help from "../src/cli/help.js"
import * as Flags from "../src/cli/options.js"
import * as Values from "../src/cli/values.js"
import { Framing, Handler, TcpServer } from "../src/index.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

/** Parses `argv` with the real `serve` options and the environment `env`, without starting a server. */
const parse = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    let parsed = Option.none<Cli.Parsed>()
    const probe = Command.make("serve", { options: Cli.serveOptions }, ({ options }) =>
      Effect.sync(() => {
        parsed = Option.some(options)
      }))
    yield* Command.run(probe, { name: "test", version: "0.0.0" })(["node", "serve", ...argv]).pipe(withEnv(env))
    return yield* parsed
  }).pipe(Effect.provide(NodeContext.layer))

/** Runs the whole command line and returns the one-line usage error it fails with. */
const usageError = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Cli.run({ version: "0.0.0" })(["node", "effect-tcp-server", ...argv]).pipe(
    withEnv(env),
    Effect.provide(NodeContext.layer),
    Effect.flip,
    Effect.map((error) => {
      assert.instanceOf(error, Errors.UsageError)
      return error.message
    })
  )

const see = " (see effect-tcp-server serve --help)"

describe("Cli serve options", () => {
  it.effect("defaults to the tutorial's settings, each marked as a default", () =>
    Effect.gen(function*() {
      const options = yield* parse([])
      assert.deepStrictEqual(options.host, { value: TcpServer.defaults.host, source: "default" })
      assert.deepStrictEqual(options.port, { value: TcpServer.defaults.port, source: "default" })
      assert.deepStrictEqual(options.encoding.value, TcpServer.defaults.encoding)
      assert.deepStrictEqual(options.reply.value, Handler.defaultReply)
      assert.deepStrictEqual(options.quiet, { value: false, source: "default" })
      assert.strictEqual(options.logLevel.value, "info")
    }))

  it.effect("reads the environment when no flag is given, and flags win over it", () =>
    Effect.gen(function*() {
      const env = {
        TCP_SERVER_HOST: "127.0.0.1",
        TCP_SERVER_PORT: "7000",
        TCP_SERVER_ENCODING: "gb18030",
        TCP_SERVER_QUIET: "true",
        TCP_SERVER_IDLE_TIMEOUT: "2m"
      }
      const fromEnv = yield* parse([], env)
      assert.deepStrictEqual(fromEnv.host, { value: "127.0.0.1", source: "env" })
      assert.deepStrictEqual(fromEnv.port, { value: 7000, source: "env" })
      assert.deepStrictEqual(fromEnv.quiet, { value: true, source: "env" })
      assert.isTrue(Duration.equals(fromEnv.idleTimeout.value, Duration.minutes(2)))
      const flags = yield* parse(["--host", "::1", "-p", "0", "--quiet", "false", "--encoding=utf8"], env)
      assert.deepStrictEqual(flags.host, { value: "::1", source: "flag" })
      assert.deepStrictEqual(flags.port, { value: 0, source: "flag" })
      assert.deepStrictEqual(flags.quiet, { value: false, source: "flag" })
      assert.deepStrictEqual(flags.encoding, { value: "utf8", source: "flag" })
    }))

  it.effect("treats an empty environment variable as unset", () =>
    Effect.gen(function*() {
      const options = yield* parse([], { TCP_SERVER_HOST: "", TCP_SERVER_PORT: "", TCP_SERVER_ALLOW: "" })
      assert.deepStrictEqual(options.host, { value: "0.0.0.0", source: "default" })
      assert.deepStrictEqual(options.port, { value: 9090, source: "default" })
      assert.deepStrictEqual(options.allow, { value: [], source: "default" })
    }))

  it.effect("builds the tutorial handler from the flags instead of passing reply options to the server", () =>
    Effect.gen(function*() {
      const options = Cli.toServeOptions(yield* parse(["--echo", "--display", "hex"]))
      assert.isFunction(options.handler)
      assert.notProperty(options, "reply")
      assert.notProperty(options, "answer")
      assert.notProperty(options, "display")
    }))

  it.effect("maps the limit, timeout and framing flags to server options", () =>
    Effect.gen(function*() {
      const defaults = Cli.toServeOptions(yield* parse([]))
      assert.strictEqual(defaults.maxConnectionsPerIp, undefined)
      assert.strictEqual(defaults.allow, undefined)
      assert.strictEqual(defaults.busyText, undefined)
      assert.deepStrictEqual(defaults.framing, Framing.chunk)
      const options = Cli.toServeOptions(
        yield* parse(
          ["--max-connections", "5", "--allow", "10.0.0.0/8, ::1", "--idle-timeout", "1.5", "--goodbye", "再见"],
          { TCP_SERVER_MAX_CONNECTIONS_PER_IP: "2", TCP_SERVER_DENY: "10.1.0.0/16", TCP_SERVER_WRITE_TIMEOUT: "0" }
        )
      )
      assert.strictEqual(options.maxConnections, 5)
      assert.strictEqual(options.maxConnectionsPerIp, 2)
      assert.deepStrictEqual(options.allow, ["10.0.0.0/8", "::1"])
      assert.deepStrictEqual(options.deny, ["10.1.0.0/16"])
      assert.isTrue(Duration.equals(Duration.decode(options.idleTimeout ?? 1), Duration.millis(1500)))
      assert.isTrue(Duration.equals(Duration.decode(options.writeTimeout ?? 1), Duration.zero))
      assert.strictEqual(options.goodbye, "再见")
      const line = Cli.toServeOptions(
        yield* parse([
          "--framing",
          "line",
          "--max-frame-bytes",
          "100",
          "--frame-errors",
          "close",
          "--reply-ending",
          "crlf"
        ])
      )
      assert.deepStrictEqual(line.framing, Framing.line({ maxFrameBytes: 100, onOversized: "close" }))
      assert.strictEqual(line.replyEnding, "\r\n")
      const delimited = Cli.toServeOptions(yield* parse(["--framing", "delimiter", "--delimiter", "\\r\\n"]))
      assert.deepStrictEqual(delimited.framing, Framing.delimiter(new Uint8Array([13, 10])))
      const length = Cli.toServeOptions(yield* parse(["--framing", "length", "--length-bytes", "4"]))
      assert.deepStrictEqual(length.framing, Framing.length(4))
      const short = Cli.toServeOptions(yield* parse(["--framing", "length", "--length-bytes", "2"]))
      assert.deepStrictEqual(short.framing, Framing.length(2, { maxFrameBytes: 65535 }))
    }))

  it.effect("--log-level works (past @effect/cli's own --log-level), from the flag or TCP_SERVER_LOG_LEVEL", () =>
    Effect.gen(function*() {
      assert.strictEqual(Cli.logLevel(yield* parse([])).label, "INFO")
      assert.strictEqual(Cli.logLevel(yield* parse(["--quiet"])).label, "WARN")
      assert.strictEqual(Cli.logLevel(yield* parse([], { TCP_SERVER_LOG_LEVEL: "error" })).label, "ERROR")
      const message = yield* usageError(["serve", "--log-level", "loud"])
      assert.strictEqual(message, `invalid --log-level "loud": expected one of debug, info, warning, error${see}`)
    }))
})

describe("Cli usage errors", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, string]> = [
    [["serve", "--port", "abc"], {}, `invalid --port "abc": expected a whole number from 0 to 65535`],
    [["serve", "--port", "70000"], {}, `invalid --port "70000": expected a whole number from 0 to 65535`],
    [["serve", "--port", "-1"], {}, `invalid --port "-1": expected a whole number from 0 to 65535`],
    [["serve", "--port", "1.5"], {}, `invalid --port "1.5": expected a whole number from 0 to 65535`],
    [["serve", "--port"], {}, `--port needs a value`],
    [["serve", "--port", "--quiet"], {}, `--port needs a value`],
    [["serve"], { TCP_SERVER_PORT: "abc" }, `invalid TCP_SERVER_PORT "abc": expected a whole number from 0 to 65535`],
    [["serve"], { TCP_SERVER_QUIET: "maybe" }, `invalid TCP_SERVER_QUIET "maybe": expected true or false`],
    [["serve", "--max-connections", "0"], {}, `invalid --max-connections "0": expected a whole number of 1 or more`],
    [["serve", "--idle-timeout", "-5"], {}, `invalid --idle-timeout "-5": expected ${Values.durationExpected}`],
    [["serve", "--idle-timeout", "NaN"], {}, `invalid --idle-timeout "NaN": expected ${Values.durationExpected}`],
    [
      ["serve", "--write-timeout", "Infinity"],
      {},
      `invalid --write-timeout "Infinity": expected ${Values.durationExpected}`
    ],
    [["serve", "--shutdown-grace", ""], {}, `invalid --shutdown-grace "": expected ${Values.durationExpected}`],
    [["serve", "--stats", "600h"], {}, `invalid --stats "600h": expected ${Values.durationExpected}`],
    [
      ["serve"],
      { TCP_SERVER_IDLE_TIMEOUT: "-5" },
      `invalid TCP_SERVER_IDLE_TIMEOUT "-5": expected ${Values.durationExpected}`
    ],
    [["serve", "--framing", "lines"], {}, `invalid --framing "lines": expected one of chunk, line, delimiter, length`],
    [
      ["serve", "--encoding", "klingon"],
      {},
      `invalid --encoding "klingon": expected an encoding that "effect-tcp-server encodings" lists`
    ],
    [["serve", "--host", ""], {}, `invalid --host "": expected an address such as 0.0.0.0, :: or 127.0.0.1`],
    [
      ["serve", "--framing", "delimiter", "--delimiter", "\\xZZ"],
      {},
      `invalid --delimiter "\\xZZ": expected escapes \\n, \\r, \\t, \\0, \\\\ or \\xHH (two hex digits)`
    ],
    [["serve", "--prot", "1"], {}, `unknown flag --prot: did you mean --port?`],
    [["serve", "9090"], {}, `unexpected argument "9090": the command takes only flags`],
    [["serve", "--port", "1", "--port", "2"], {}, `--port is given twice`],
    [["serve", "--quiet=maybe"], {}, `invalid --quiet "maybe": expected true or false`]
  ]
  for (const [argv, env, problem] of cases) {
    it.effect(`${argv.join(" ")} ${JSON.stringify(env)}`, () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* usageError(argv, env), `${problem}${see}`)
      }))
  }

  it.effect("an allow or deny list with no address is refused; an empty variable is unset", () =>
    Effect.gen(function*() {
      const expected = "expected one or more addresses or CIDR ranges separated by commas, such as 10.0.0.0/8,::1"
      for (const value of ["", " ", ","]) {
        assert.strictEqual(
          yield* usageError(["serve", "--allow", value]),
          `invalid --allow "${value}": ${expected}${see}`
        )
      }
      assert.strictEqual(yield* usageError(["serve", "--deny", ","]), `invalid --deny ",": ${expected}${see}`)
      assert.strictEqual(
        yield* usageError(["serve"], { TCP_SERVER_ALLOW: " , " }),
        `invalid TCP_SERVER_ALLOW " , ": ${expected}${see}`
      )
    }))

  it.effect("settings the server refuses at start are usage errors too", () =>
    Effect.gen(function*() {
      const local = ["serve", "--host", "127.0.0.1", "--port", "0"]
      assert.strictEqual(
        yield* usageError([...local, "--allow", "10.0.0.0/33"]),
        `invalid allow range "10.0.0.0/33": expected an IPv4 or IPv6 address or CIDR range, such as 10.0.0.0/8, ` +
          `192.168.1.7 or fd00::/8${see}`
      )
      const unsafe = yield* usageError([...local, "--framing", "delimiter", "--delimiter", "|"])
      assert.match(unsafe, /^delimiter "\|" \(0x7C\) is unsafe with gbk: .* \(see effect-tcp-server serve --help\)$/)
    }))

  it.effect("refuses a reply, goodbye or busy text the encoding cannot represent, named as the user set it", () =>
    Effect.gen(function*() {
      const reply = yield* usageError(["serve", "--encoding", "latin1", "--reply", "你好"])
      assert.strictEqual(
        reply,
        `the --reply "你好" cannot be sent in latin1: "你", "好" have no latin1 encoding; set a text latin1 can ` +
          `represent, or another encoding${see}`
      )
      assert.match(
        yield* usageError(["serve", "-e", "shift_jis"]),
        /^the default --reply "ok，问题正在处理中\.\.\." cannot/
      )
      assert.match(
        yield* usageError(["serve", "-e", "ascii", "--no-reply"], { TCP_SERVER_GOODBYE: "再见" }),
        /^the TCP_SERVER_GOODBYE "再见"/
      )
      assert.match(yield* usageError(["serve", "-e", "ascii", "--echo", "--busy-text", "忙"]), /^the --busy-text "忙"/)
      // With --echo or --no-reply the reply is never sent, so it need not be representable.
      yield* parse(["-e", "shift_jis", "--no-reply"])
    }))

  it.effect("refuses contradictory flags", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, string]> = [
        [["--delimiter", "\\n"], {}, "--delimiter applies only to --framing delimiter, and the framing is chunk"],
        [
          ["--framing", "line", "--length-bytes", "4"],
          {},
          "--length-bytes applies only to --framing length, and the framing is line"
        ],
        [
          [],
          { TCP_SERVER_LENGTH_BYTES: "4" },
          "TCP_SERVER_LENGTH_BYTES applies only to --framing length, and the framing is chunk"
        ],
        [["--reply-ending", "lf"], {}, "--reply-ending applies only to --framing line, and the framing is chunk"],
        [
          ["--max-frame-bytes", "10"],
          {},
          "--max-frame-bytes applies only to --framing line, delimiter or length, and the framing is chunk"
        ],
        [
          ["--frame-errors", "close"],
          {},
          "--frame-errors applies only to --framing line, delimiter or length, and the framing is chunk"
        ],
        [["--echo", "--no-reply"], {}, "--echo and --no-reply contradict each other: choose one"],
        [["--echo", "--reply", "hi"], {}, "--reply is never sent with --echo: drop one of them"],
        [
          ["--no-reply"],
          { TCP_SERVER_REPLY: "hi" },
          "TCP_SERVER_REPLY is never sent with --no-reply: drop one of them"
        ],
        [
          ["--quiet", "--log-level", "debug"],
          {},
          "--quiet means log level warning, and --log-level says debug: choose one"
        ]
      ]
      for (const [argv, env, problem] of cases) {
        assert.strictEqual(yield* usageError(["serve", ...argv], env), `${problem}${see}`)
      }
      // Not contradictions: a boolean set to false, and --quiet with --log-level warning.
      yield* parse(["--echo", "--no-reply", "false"])
      yield* parse(["--quiet", "--log-level", "warning"])
    }))

  it.effect("an unknown command or top-level flag points at the top-level help", () =>
    Effect.gen(function*() {
      // The lists name every subcommand (serve, bench, encodings, and more as they come).
      assert.match(
        yield* usageError(["serv"]),
        /^unknown command "serv": expected serve, ([a-z]+, )*encodings \(see effect-tcp-server --help\)$/
      )
      assert.match(
        yield* usageError(["--port", "1"]),
        /^unknown flag --port: expected a command \(serve, ([a-z]+, )*encodings\), --help or --version \(see effect-tcp-server --help\)$/
      )
    }))
})

describe("Cli values", () => {
  it("reads durations in seconds, milliseconds, minutes and hours alike", () => {
    const millis = (text: string) =>
      Duration.toMillis(Values.duration(text).pipe((e) => e._tag === "Right" ? e.right : Duration.infinity))
    assert.strictEqual(millis("30"), 30_000)
    assert.strictEqual(millis("30s"), 30_000)
    assert.strictEqual(millis("500ms"), 500)
    assert.strictEqual(millis("5m"), 300_000)
    assert.strictEqual(millis("1h"), 3_600_000)
    assert.strictEqual(millis("1.5"), 1500)
    assert.strictEqual(millis("0"), 0)
    for (const bad of ["", " ", "-5", "NaN", "Infinity", "1e3", "5 m", "5x", "597h"]) {
      assert.isTrue(Values.duration(bad)._tag === "Left", bad)
    }
    assert.strictEqual(Values.formatDuration(Duration.minutes(5)), "5m")
    assert.strictEqual(Values.formatDuration(Duration.millis(1500)), "1500ms")
  })
})

describe("Cli help", () => {
  const plainHelp = Help.serve({ colour: false })

  it("fits 80 columns, without colour unless asked for", () => {
    for (const line of plainHelp.split("\n")) assert.isAtMost(Help.columns(line), 80, line)
    assert.notInclude(plainHelp, "\u001b")
    assert.include(Help.serve({ colour: true }), "\u001b[1m")
    assert.notInclude(plainHelp, "This setting is optional")
  })

  it("shows every flag with its default and environment variable, in groups", () => {
    for (const flag of Flags.serveFlags) {
      const at = plainHelp.indexOf(`--${flag.name}`)
      assert.isAtLeast(at, 0, flag.name)
      const after = plainHelp.slice(at).replace(/\s+/g, " ")
      assert.include(after, Help.helpMeta(flag))
      assert.include(Help.helpMeta(flag), flag.env)
    }
    const headings = ["Listening:", "Protocol:", "Limits:", "Timeouts and shutdown:", "Output:"]
    const positions = headings.map((heading) => plainHelp.indexOf(`\n${heading}\n`))
    assert.deepStrictEqual([...positions].sort((a, b) => a - b), positions)
    assert.notInclude(positions, -1)
  })

  it("has every flag the issue asks for", () => {
    const names = Flags.serveFlags.map((flag) => flag.name)
    for (
      const name of [
        "host",
        "port",
        "backlog",
        "encoding",
        "reply",
        "quiet",
        "max-connections",
        "max-connections-per-ip",
        "allow",
        "deny",
        "busy-text",
        "idle-timeout",
        "max-connection-age",
        "write-timeout",
        "shutdown-grace",
        "goodbye",
        "stats",
        "framing",
        "max-frame-bytes",
        "delimiter",
        "length-bytes",
        "frame-errors",
        "decode-errors",
        "reply-ending",
        "display",
        "echo",
        "no-reply",
        "log-level"
      ]
    ) assert.include(names, name)
    assert.deepStrictEqual(new Set(Flags.serveFlags.map((flag) => flag.env)).size, Flags.serveFlags.length)
  })

  it("lists the commands in short lines, each with a summary", () => {
    const commands = [...HashMap.keys(Command.getSubcommands(Cli.command))]
    const text = Help.top({
      version: "1.2.3",
      commands: commands.map((name) => ({ name, summary: Cli.summaries[name] ?? "" })),
      style: { colour: false }
    })
    for (const name of commands) {
      assert.isString(Cli.summaries[name], `a summary for ${name}`)
      assert.match(text, new RegExp(`^  ${name} +\\S`, "m"))
    }
    for (const line of text.split("\n")) assert.isAtMost(Help.columns(line), 80, line)
  })
})

describe("Cli start line", () => {
  it.effect("shows the framing and writes IPv6 addresses in brackets", () =>
    Effect.gen(function*() {
      const address = (host: string): TcpServer.Address => ({ host, port: 9307, family: "IPv6" })
      assert.strictEqual(
        Cli.startLine(address("::"), yield* parse([])),
        "effect-tcp-server listening on [::]:9307 (encoding gbk, framing chunk)"
      )
      assert.strictEqual(
        Cli.startLine(address("127.0.0.1"), yield* parse(["--framing", "length", "-e", "utf8"])),
        "effect-tcp-server listening on 127.0.0.1:9307 (encoding utf8, framing length, 2-byte prefix)"
      )
      assert.strictEqual(
        Cli.startLine(address("::1"), yield* parse(["--framing", "delimiter"])),
        "effect-tcp-server listening on [::1]:9307 (encoding gbk, framing delimiter \\x03)"
      )
    }))
})

describe("Cli serve observability options", () => {
  it.effect("are off by default: tutorial lines on the standard streams, no metrics, no traces", () =>
    Effect.gen(function*() {
      const options = yield* parse([])
      assert.deepStrictEqual(options.logFormat, { value: "tutorial", source: "default" })
      assert.isTrue(Option.isNone(options.logFile.value))
      assert.isTrue(Option.isNone(options.metricsPort.value))
      assert.strictEqual(options.metricsHost.value, "127.0.0.1")
      assert.isTrue(Option.isNone(options.otlpEndpoint.value))
    }))

  it.effect("read flags, then their variables; an empty variable is unset", () =>
    Effect.gen(function*() {
      const flags = yield* parse(["--log-format", "logfmt", "--log-file", "/tmp/x.log", "--metrics-port", "0"])
      assert.strictEqual(flags.logFormat.value, "logfmt")
      assert.deepStrictEqual(flags.logFile.value, Option.some("/tmp/x.log"))
      assert.deepStrictEqual(flags.metricsPort.value, Option.some(0))
      const env = yield* parse([], {
        TCP_SERVER_LOG_FORMAT: "json",
        TCP_SERVER_METRICS_PORT: "9464",
        TCP_SERVER_METRICS_HOST: "0.0.0.0",
        TCP_SERVER_LOG_FILE: ""
      })
      assert.deepStrictEqual(env.logFormat, { value: "json", source: "env" })
      assert.deepStrictEqual(env.metricsPort.value, Option.some(9464))
      assert.strictEqual(env.metricsHost.value, "0.0.0.0")
      assert.deepStrictEqual(env.logFile, { value: Option.none(), source: "default" })
    }))

  it.effect("the OTLP endpoint: the flag, else TCP_SERVER_OTLP_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT", () =>
    Effect.gen(function*() {
      const standard = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }
      const own = { ...standard, TCP_SERVER_OTLP_ENDPOINT: "http://own:4318" }
      assert.deepStrictEqual((yield* parse([], standard)).otlpEndpoint.value, Option.some("http://collector:4318"))
      assert.deepStrictEqual((yield* parse([], own)).otlpEndpoint.value, Option.some("http://own:4318"))
      assert.deepStrictEqual(
        (yield* parse([], { ...own, TCP_SERVER_OTLP_ENDPOINT: "" })).otlpEndpoint.value,
        Option.some("http://collector:4318")
      )
      assert.deepStrictEqual(
        (yield* parse(["--otlp-endpoint", "https://flag:4318"], own)).otlpEndpoint.value,
        Option.some("https://flag:4318")
      )
    }))

  it.effect("bad values are one line, naming the variable they came from", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* usageError(["serve", "--log-format", "xml"]),
        `invalid --log-format "xml": expected one of tutorial, json, logfmt${see}`
      )
      assert.strictEqual(
        yield* usageError(["serve"], { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }),
        `invalid OTEL_EXPORTER_OTLP_ENDPOINT "collector:4318": expected an http:// or https:// URL such as ` +
          `http://127.0.0.1:4318${see}`
      )
      assert.strictEqual(
        yield* usageError(["serve", "--metrics-port", "70000"]),
        `invalid --metrics-port "70000": expected a whole number from 0 to 65535${see}`
      )
    }))
})
