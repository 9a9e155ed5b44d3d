/**
 * The parts of `effect-tcp-server connect`: the socket, the bytes sent for a typed line and the output made of
 * the bytes that come back. Failures are raw causes; `ConnectCli` turns them into its errors.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Encoding from "../Encoding.js"
import * as Framing from "../Framing.js"

/**
 * Connects to `host`:`port`; the socket is destroyed when the scope closes (or if interrupted while connecting).
 *
 * @internal
 */
export const open = (host: string, port: number): Effect.Effect<Net.Socket, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, Error>((resume) => {
      const socket = Net.connect({ host, port })
      const onError = (error: Error) => resume(Effect.fail(error))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resume(Effect.succeed(socket))
      })
      return Effect.sync(() => socket.destroy())
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/**
 * Writes `bytes`, completing once the socket has handed them to the kernel.
 *
 * @internal
 */
export const write = (socket: Net.Socket, bytes: Uint8Array): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    socket.write(bytes, (error) => resume(error ? Effect.fail(error) : Effect.void))
  })

/**
 * The bytes sent for one typed line (without its newline): the line encoded, then framed. In `Chunk` framing the
 * line goes alone, as a client calling `send` once per message would send it; an empty line there sends nothing
 * (the result is empty).
 *
 * @internal
 */
export const frameLine = (
  framing: Framing.Framing,
  encoding: string,
  line: string
): Either.Either<Uint8Array, Framing.FrameTooLongError> => Framing.encodeFrame(framing, Encoding.encode(line, encoding))

/**
 * What to print: a line of the server's output on standard output, or a note on standard error.
 *
 * @internal
 */
export type Output =
  | { readonly _tag: "Reply"; readonly text: string }
  | { readonly _tag: "Note"; readonly text: string }

/**
 * Turns the bytes read from the server into {@link Output}s: one per frame, or, in `Chunk` framing, one per
 * read, decoded with one streaming decoder so that a character split between two reads is printed whole.
 *
 * @internal
 */
export interface ReplyReader {
  readonly push: (bytes: Uint8Array) => ReadonlyArray<Output>
  readonly end: () => ReadonlyArray<Output>
}

const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").replace(/(..)(?!$)/g, "$1 ")

const reply = (text: string): ReadonlyArray<Output> => text === "" ? [] : [{ _tag: "Reply", text }]

/**
 * A new {@link ReplyReader}. With `hex`, each read or frame is shown as its bytes in hex instead of its text.
 *
 * @internal
 */
export const makeReplyReader = (framing: Framing.Framing, encoding: string, showHex: boolean): ReplyReader => {
  if (framing._tag === "Chunk") {
    const decoder = Encoding.decoder(encoding)
    // Printed with a newline (as Python's print(s.recv(1024).decode()) does), so one ending of its own is dropped.
    const chunkText = (text: string) => reply(text.replace(/\r?\n$/, ""))
    return {
      push: (bytes) => showHex ? reply(hex(bytes)) : chunkText(decoder.write(bytes)),
      end: () => showHex ? [] : chunkText(decoder.end())
    }
  }
  const frames = Framing.makeDecoder(framing)
  const toOutput = (event: Framing.FrameEvent): ReadonlyArray<Output> => {
    switch (event._tag) {
      case "Frame":
        return [{ _tag: "Reply", text: showHex ? hex(event.bytes) : Encoding.decode(event.bytes, encoding) }]
      case "Oversized":
        return [{
          _tag: "Note",
          text: `a reply frame of ${event.length} bytes is longer than the maximum of ${event.max} bytes: skipped`
        }]
      case "Incomplete":
        return [{
          _tag: "Note",
          text: `the connection ended inside a reply frame (${event.length} of ${event.expected} bytes received)`
        }]
    }
  }
  return {
    push: (bytes) => frames.push(bytes).flatMap(toOutput),
    end: () => frames.end().flatMap(toOutput)
  }
}
