import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { type Connection, ConnectionError } from "../Connection.js"
import * as Encoding from "../Encoding.js"

/**
 * Pulls the next chunk of a paused socket: reads what is buffered, otherwise waits for data, the end of
 * input or an error. Nothing is read from the kernel beyond the socket's high-water mark until the next pull.
 *
 * @internal
 */
export const makeReader = (socket: Net.Socket): Effect.Effect<Buffer, Option.Option<ConnectionError>> => {
  let wake: (() => void) | undefined
  const notify = () => {
    const resume = wake
    if (resume !== undefined) {
      wake = undefined
      resume()
    }
  }
  socket.on("readable", notify)
  socket.on("end", notify)
  socket.on("close", notify)
  socket.on("error", notify)
  const pull: Effect.Effect<Buffer, Option.Option<ConnectionError>> = Effect.suspend(() => {
    const chunk: Buffer | null = socket.read()
    if (chunk !== null) return Effect.succeed(chunk)
    if (socket.errored !== null) {
      return Effect.fail(Option.some(new ConnectionError({ reason: "Read", cause: socket.errored })))
    }
    if (socket.readableEnded || socket.destroyed) return Effect.fail(Option.none())
    return Effect.async<Buffer, Option.Option<ConnectionError>>((resume) => {
      wake = () => resume(pull)
      return Effect.sync(() => {
        wake = undefined
      })
    })
  })
  return pull
}

/** @internal */
export const write = (socket: Net.Socket, bytes: Uint8Array): Effect.Effect<void, ConnectionError> =>
  Effect.async<void, ConnectionError>((resume) => {
    socket.write(bytes, (error) => {
      resume(error ? Effect.fail(new ConnectionError({ reason: "Write", cause: error })) : Effect.void)
    })
  })

/**
 * Decodes the chunks of `pull`, skipping reads that complete no character and flushing the decoder at the end.
 *
 * @internal
 */
export const decodeAll = (
  pull: Effect.Effect<Buffer, Option.Option<ConnectionError>>,
  encoding: string
): Stream.Stream<string, ConnectionError> =>
  Stream.suspend(() => {
    const decoder = Encoding.decoder(encoding)
    let flushed = false
    const pullText: Effect.Effect<string, Option.Option<ConnectionError>> = pull.pipe(
      Effect.matchEffect({
        onFailure: (error) => {
          if (Option.isSome(error) || flushed) return Effect.fail(error)
          flushed = true
          const rest = decoder.end()
          return rest.length > 0 ? Effect.succeed(rest) : Effect.fail(error)
        },
        onSuccess: (chunk) => {
          const text = decoder.write(chunk)
          return text.length > 0 ? Effect.succeed(text) : pullText
        }
      })
    )
    return Stream.repeatEffectOption(pullText)
  })

/** @internal */
export interface Peer {
  readonly remoteAddress: string
  readonly remotePort: number
}

/** @internal */
export const peerOf = (socket: Net.Socket): Peer => ({
  remoteAddress: socket.remoteAddress ?? "unknown",
  remotePort: socket.remotePort ?? 0
})

/**
 * Wraps an accepted socket as a {@link Connection}; the socket is destroyed when the scope closes.
 *
 * @internal
 */
export const make = (
  socket: Net.Socket,
  id: number,
  peer: Peer,
  encoding: string
): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Connection => {
      const pull = makeReader(socket)
      return {
        id,
        remoteAddress: peer.remoteAddress,
        remotePort: peer.remotePort,
        encoding,
        chunks: Stream.repeatEffectOption(pull),
        input: decodeAll(pull, encoding),
        send: (text) => write(socket, Encoding.encode(text, encoding)),
        sendBytes: (bytes) => write(socket, bytes)
      }
    }),
    () => Effect.sync(() => socket.destroy())
  )
