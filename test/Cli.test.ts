import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import { Cli, TcpServer } from "../src/index.js"

type Parsed = Command.Command.ParseConfig<typeof Cli.serveOptions>

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
      assert.deepStrictEqual(options, { ...TcpServer.defaults, quiet: false })
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
      assert.deepStrictEqual(options, {
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
      assert.deepStrictEqual(options, { host: "::1", port: 0, backlog: 8, encoding: "utf8", reply: "ok", quiet: false })
    }))

  it.effect("mixes flags, environment and defaults option by option", () =>
    Effect.gen(function*() {
      const options = yield* parse(["-p", "9191"], { TCP_SERVER_ENCODING: "gb18030" })
      assert.deepStrictEqual(options, { ...TcpServer.defaults, quiet: false, port: 9191, encoding: "gb18030" })
    }))

  it.effect("rejects a port that is not a number", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(parse(["--port", "ninety"]))
      assert.isTrue(exit._tag === "Failure")
    }))
})
