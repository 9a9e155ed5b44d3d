import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Stream } from "effect"
import { Connection, TcpServer } from "effect-tcp-server"

// Replies to every message with the same text in upper case, in the client's encoding.
export const upperCase: Connection.Handler = (connection) =>
  Stream.runForEach(Connection.input(connection), (text) =>
    Effect.zipRight(
      Effect.logInfo(`#${connection.id} ${connection.remoteAddress}: ${text}`),
      connection.send(text.toUpperCase())
    ))

// Settings from the environment (HOST, PORT, ENCODING), with defaults.
export const ServerLive = TcpServer.layerConfig({
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.integer("PORT").pipe(Config.withDefault(9191)),
  encoding: Config.string("ENCODING").pipe(Config.withDefault("gbk"))
}, upperCase)

// Run it on its own, or merge ServerLive into your application's layers.
export const main = Layer.launch(ServerLive)

if (import.meta.url === `file://${process.argv[1]}`) NodeRuntime.runMain(main)
