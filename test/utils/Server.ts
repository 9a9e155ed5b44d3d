import { Effect, Exit, Scope } from "effect"
import Iconv from "iconv-lite"
import { type Connection, Handler, TcpServer } from "../../src/index.js"
import { makeLogCapture } from "./Client.js"

export const gbk = (text: string) => Iconv.encode(text, "gbk")
export const replyBytes = gbk(Handler.defaultReply)

/** Real time: only to let the kernel deliver or buffer bytes, never to wait for the server's own timers. */
export const realPause = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

/**
 * Starts a server on 127.0.0.1, port 0, in a scope of its own (closed with the test's scope, or earlier by
 * `close`), with its log lines captured.
 */
export const startServer = <E = Connection.ConnectionFailure, R = never>(options: TcpServer.Options<E, R> = {}) =>
  Effect.gen(function*() {
    const logs = yield* makeLogCapture
    const scope = yield* Scope.make()
    const server = yield* TcpServer.make({ host: "127.0.0.1", port: 0, ...options }).pipe(
      Effect.provide(logs.layer),
      Scope.extend(scope)
    )
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { server, port: server.address.port, logs, close: Scope.close(scope, Exit.void) }
  })
