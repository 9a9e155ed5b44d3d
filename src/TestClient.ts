/**
 * A client for tests of a server: connects over loopback, writes bytes, reads exactly as many as you ask for,
 * and tells when the server closed the connection. {@link TcpServer.layerTest} provides one bound to the
 * server it starts.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"

/**
 * The connection closed before the bytes asked for arrived, or could not be made.
 *
 * @since 0.1.0
 * @category errors
 */
export class TestClientError extends Data.TaggedError("TestClientError")<{
  readonly reason: "Connect" | "Closed"
  readonly detail: string
}> {
  override get message(): string {
    return this.reason === "Connect" ? `cannot connect: ${this.detail}` : this.detail
  }
}

/**
 * One connection of a test client. What the server sends is kept until read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly socket: Net.Socket
  readonly localPort: number
  /** Writes and waits until the bytes are handed to the kernel. */
  readonly write: (bytes: Uint8Array | string) => Effect.Effect<void>
  /** Waits until `n` bytes have arrived and takes them; fails if the connection closes first. */
  readonly read: (n: number) => Effect.Effect<Buffer, TestClientError>
  /** Waits until the connection has closed; succeeds with the bytes never read. */
  readonly closed: Effect.Effect<Buffer>
  /** Half-closes: sends FIN. */
  readonly end: Effect.Effect<void>
  /** Closes abruptly with a TCP RST. */
  readonly reset: Effect.Effect<void>
}

/**
 * Connects to `host:port`; the connection is destroyed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (port: number, host = "127.0.0.1"): Effect.Effect<Client, TestClientError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, TestClientError>((resume) => {
      const socket = Net.connect({ port, host })
      socket.once(
        "error",
        (error) => resume(Effect.fail(new TestClientError({ reason: "Connect", detail: error.message })))
      )
      socket.once("connect", () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.flatMap((socket) =>
    Effect.gen(function*() {
      const closed = yield* Deferred.make<void>()
      let received: Buffer = Buffer.alloc(0)
      let waiter: (() => void) | undefined
      const notify = () => {
        const wake = waiter
        waiter = undefined
        wake?.()
      }
      socket.on("data", (chunk: Buffer) => {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
        notify()
      })
      // Errors show as the connection closing; a test that expects a reset looks at `socket.errored`.
      socket.on("error", () => {})
      socket.on("close", () => {
        Deferred.unsafeDone(closed, Effect.void)
        notify()
      })
      const read = (n: number): Effect.Effect<Buffer, TestClientError> =>
        Effect.suspend(() => {
          if (received.length >= n) {
            const out = received.subarray(0, n)
            received = received.subarray(n)
            return Effect.succeed(out)
          }
          if (socket.destroyed) {
            return Effect.fail(
              new TestClientError({
                reason: "Closed",
                detail: `connection closed after ${received.length} of ${n} bytes`
              })
            )
          }
          return Effect.zipRight(
            Effect.async<void>((resume) => {
              waiter = () => resume(Effect.void)
              return Effect.sync(() => {
                waiter = undefined
              })
            }),
            read(n)
          )
        })
      const client: Client = {
        socket,
        localPort: socket.localPort ?? 0,
        write: (bytes) =>
          Effect.async<void>((resume) => {
            socket.write(bytes, () => resume(Effect.void))
          }),
        read,
        closed: Effect.map(Deferred.await(closed), () => received),
        end: Effect.sync(() => {
          socket.end()
        }),
        reset: Effect.sync(() => {
          socket.resetAndDestroy()
        })
      }
      return client
    })
  ))

/**
 * Connects test clients to one server.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestClient extends Context.Tag("effect-tcp-server/TestClient")<TestClient, {
  /** The address the clients connect to. */
  readonly port: number
  readonly host: string
  readonly connect: Effect.Effect<Client, TestClientError, Scope.Scope>
}>() {}

/**
 * A test client for the server at `host:port`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (port: number, host = "127.0.0.1"): TestClient["Type"] =>
  TestClient.of({ port, host, connect: connect(port, host) })
