import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"
import * as Cli from "../src/Cli.js"
import { Framing, Handler, TcpServer } from "../src/index.js"

type Parsed = Command.Command.ParseConfig<typeof Cli.serveOptions>

const core = (options: Parsed) => {
  const { backlog, encoding, host, port, quiet, reply } = options
  return { host, port, backlog, encoding, reply, quiet }
}
const tutorialDefaults = {
  host: TcpServer.defaults.host,
  port: TcpServer.defaults.port,
  backlog: TcpServer.defaults.backlog,
  encoding: TcpServer.defaults.encoding,
  reply: Handler.defaultReply,
  quiet: false
}

/** Parses `argv` with the real `serve` options and the environment `env`. */
const parse = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    let parsed = Option.none<Parsed>()
    const probe = Command.make("serve", Cli.serveOptions, (options) =>
      Effect.sync(() => {
        parsed = Option.some(options)
      }))
    yield* Command.run(probe, { name: "test", version: "0.0.0" })(["node", "serve", ...argv]).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )
    return yield* parsed
  }).pipe(Effect.provide(NodeContext.layer))

describe("Cli serve options", () => {
  it.effect("defaults to the tutorial's settings", () =>
    Effect.gen(function*() {
      const options = yield* parse([])
      assert.deepStrictEqual(core(options), tutorialDefaults)
    }))

  it.effect("reads the environment when no flag is given", () =>
    Effect.gen(function*() {
      const options = yield* parse([], {
        TCP_SERVER_HOST: "127.0.0.1",
        TCP_SERVER_PORT: "7000",
        TCP_SERVER_BACKLOG: "16",
        TCP_SERVER_ENCODING: "big5",
        TCP_SERVER_REPLY: "收到",
        TCP_SERVER_QUIET: "true"
      })
      assert.deepStrictEqual(core(options), {
        host: "127.0.0.1",
        port: 7000,
        backlog: 16,
        encoding: "big5",
        reply: "收到",
        quiet: true
      })
    }))

  it.effect("lets flags win over the environment", () =>
    Effect.gen(function*() {
      const options = yield* parse(
        ["--host", "::1", "--port", "0", "--backlog", "8", "--encoding", "utf8", "--reply", "ok", "--quiet", "false"],
        {
          TCP_SERVER_HOST: "127.0.0.1",
          TCP_SERVER_PORT: "7000",
          TCP_SERVER_BACKLOG: "16",
          TCP_SERVER_ENCODING: "big5",
          TCP_SERVER_REPLY: "收到",
          TCP_SERVER_QUIET: "true"
        }
      )
      assert.deepStrictEqual(core(options), {
        host: "::1",
        port: 0,
        backlog: 8,
        encoding: "utf8",
        reply: "ok",
        quiet: false
      })
    }))

  it.effect("mixes flags, environment and defaults option by option", () =>
    Effect.gen(function*() {
      const options = yield* parse(["-p", "9191"], { TCP_SERVER_ENCODING: "gb18030" })
      assert.deepStrictEqual(core(options), { ...tutorialDefaults, port: 9191, encoding: "gb18030" })
    }))

  it.effect("maps the limit, timeout and shutdown flags to server options", () =>
    Effect.gen(function*() {
      const defaults = yield* Cli.toServeOptions(yield* parse([]))
      assert.strictEqual(defaults.maxConnections, TcpServer.defaults.maxConnections)
      assert.strictEqual(defaults.maxConnectionsPerIp, undefined)
      assert.strictEqual(defaults.allow, undefined)
      assert.strictEqual(defaults.busyText, undefined)
      assert.strictEqual(defaults.goodbye, undefined)
      assert.isTrue(Duration.equals(Duration.decode(defaults.idleTimeout ?? 0), TcpServer.defaults.idleTimeout))

      const options = yield* Cli.toServeOptions(
        yield* parse(
          ["--max-connections", "5", "--allow", "10.0.0.0/8, ::1", "--idle-timeout", "1.5", "--goodbye", "再见"],
          { TCP_SERVER_MAX_CONNECTIONS_PER_IP: "2", TCP_SERVER_DENY: "10.1.0.0/16", TCP_SERVER_MAX_CONNECTIONS: "9" }
        )
      )
      assert.strictEqual(options.maxConnections, 5)
      assert.strictEqual(options.maxConnectionsPerIp, 2)
      assert.deepStrictEqual(options.allow, ["10.0.0.0/8", "::1"])
      assert.deepStrictEqual(options.deny, ["10.1.0.0/16"])
      assert.isTrue(Duration.equals(Duration.decode(options.idleTimeout ?? 0), Duration.millis(1500)))
      assert.strictEqual(options.goodbye, "再见")
    }))

  it.effect("maps the framing flags", () =>
    Effect.gen(function*() {
      const chunk = yield* Cli.toServeOptions(yield* parse([]))
      assert.deepStrictEqual(chunk.framing, Framing.chunk)
      const line = yield* Cli.toServeOptions(
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
      const delimited = yield* Cli.toServeOptions(
        yield* parse(["--framing", "delimiter", "--delimiter", "\\r\\n", "--echo"], { TCP_SERVER_DISPLAY: "hex" })
      )
      assert.deepStrictEqual(delimited.framing, Framing.delimiter(new Uint8Array([13, 10])))
      const length = yield* Cli.toServeOptions(
        yield* parse(["--framing", "length", "--length-bytes", "4", "--no-reply"])
      )
      assert.deepStrictEqual(length.framing, Framing.length(4))
      const short = yield* Cli.toServeOptions(yield* parse(["--framing", "length", "--length-bytes", "2"]))
      assert.deepStrictEqual(short.framing, Framing.length(2, { maxFrameBytes: 65535 }))
      const bad = yield* Effect.flip(
        Cli.toServeOptions(yield* parse(["--framing", "delimiter", "--delimiter", "\\xZZ"]))
      )
      assert.strictEqual(bad._tag, "DelimiterError")
    }))

  it.effect("rejects a port that is not a number", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(parse(["--port", "ninety"]))
      assert.isTrue(exit._tag === "Failure")
    }))
})
