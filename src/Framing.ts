/**
 * Framing: cutting a byte stream into messages (frames) and back, independently of the transport and of the
 * text encoding, in the spirit of Netty's frame decoders and Tokio's codecs.
 *
 * This module holds the model (the {@link Framing}s, their events and errors), {@link validate},
 * {@link makeDecoder} and {@link encodeFrame}. The decoders themselves are in `internal/decoders/` (one file per
 * mode), the analysis of an encoding's bytes in `internal/encodingBytes.ts` and the reading of delimiters written
 * as text in `internal/delimiterText.ts`; this module re-exports what is public of them. Imports run one way: from
 * here to those modules, never back.
 *
 * A {@link FrameDecoder} is a plain synchronous object fed with the chunks read from a connection; it keeps
 * at most about `maxFrameBytes` bytes, however long the input, and decodes one frame per `next()`. Effect is only
 * used to validate a {@link Framing} against the text encoding of the connection, since a delimiter byte that can
 * occur inside a multi-byte character would cut frames in the middle of characters.
 *
 * A little over the ~400 lines the house style aims for: most of it is the documentation of the public model, which
 * users read here; the code that could stand alone already lives in the modules above.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "./Encoding.js"
import * as ChunkDecoder from "./internal/decoders/chunk.js"
import * as DelimiterDecoder from "./internal/decoders/delimiter.js"
import * as Event from "./internal/decoders/event.js"
import * as LengthDecoder from "./internal/decoders/length.js"
import * as DelimiterText from "./internal/delimiterText.js"
import * as EncodingBytes from "./internal/encodingBytes.js"

/**
 * What to do with a frame longer than `maxFrameBytes`:
 * - `"skip"`: discard it up to its end, report it with one `Oversized` event and go on with the next frame;
 * - `"close"`: report it with one `Oversized` event as soon as the limit is exceeded and ignore the rest of the
 *   input, so the caller can close the connection.
 *
 * @since 0.1.0
 * @category models
 */
export type OversizedPolicy = "skip" | "close"

/**
 * How a byte stream is cut into frames:
 * - `Chunk`: each read is one frame, as it comes;
 * - `Line`: frames end at LF or CRLF, which are stripped;
 * - `Delimiter`: frames end at `delimiter`, which is stripped;
 * - `Length`: each frame is preceded by its length in bytes, big-endian, on `lengthBytes` bytes.
 *
 * `maxFrameBytes` bounds a frame's payload (without its delimiter or length prefix), and so the memory a
 * decoder holds. Check a framing with {@link validate} before use.
 *
 * @since 0.1.0
 * @category models
 */
export type Framing =
  | { readonly _tag: "Chunk" }
  | { readonly _tag: "Line"; readonly maxFrameBytes: number; readonly onOversized: OversizedPolicy }
  | {
    readonly _tag: "Delimiter"
    readonly delimiter: Uint8Array
    readonly maxFrameBytes: number
    readonly onOversized: OversizedPolicy
  }
  | {
    readonly _tag: "Length"
    readonly lengthBytes: 1 | 2 | 4
    readonly maxFrameBytes: number
    readonly onOversized: OversizedPolicy
  }

/**
 * The default `maxFrameBytes`: 64 KiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxFrameBytes = 64 * 1024

/**
 * Options of the framings that have a maximum frame size.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default: {@link defaultMaxFrameBytes} (capped at what a `Length` prefix can announce). */
  readonly maxFrameBytes?: number | undefined
  /** Default: `"skip"`. */
  readonly onOversized?: OversizedPolicy | undefined
}

/**
 * One frame per read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const chunk: Framing = { _tag: "Chunk" }

/**
 * Frames ending at LF or CRLF.
 *
 * @since 0.1.0
 * @category constructors
 */
export const line = (options?: Options): Framing => ({
  _tag: "Line",
  maxFrameBytes: options?.maxFrameBytes ?? defaultMaxFrameBytes,
  onOversized: options?.onOversized ?? "skip"
})

/**
 * Frames ending at `bytes`; see {@link parseDelimiter} to read them from text such as `"\\x03"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const delimiter = (bytes: Uint8Array, options?: Options): Framing => ({
  _tag: "Delimiter",
  delimiter: bytes,
  maxFrameBytes: options?.maxFrameBytes ?? defaultMaxFrameBytes,
  onOversized: options?.onOversized ?? "skip"
})

/**
 * Frames preceded by their big-endian length. Without `maxFrameBytes`, the maximum is
 * {@link defaultMaxFrameBytes}, or 255 with a 1-byte prefix.
 *
 * @since 0.1.0
 * @category constructors
 */
export const length = (lengthBytes: 1 | 2 | 4, options?: Options): Framing => ({
  _tag: "Length",
  lengthBytes,
  maxFrameBytes: options?.maxFrameBytes ?? Math.min(defaultMaxFrameBytes, maxLengthFor(lengthBytes)),
  onOversized: options?.onOversized ?? "skip"
})

/**
 * The largest length a prefix of `lengthBytes` bytes can announce.
 *
 * @since 0.1.0
 * @category utils
 */
export const maxLengthFor = (lengthBytes: 1 | 2 | 4): number => 2 ** (8 * lengthBytes) - 1

/**
 * What a {@link FrameDecoder} reports:
 * - `Frame`: a frame, without its delimiter. `ending` is the delimiter that ended it: `"\n"` or `"\r\n"` in
 *   `Line` mode, the delimiter in `Delimiter` mode; it is empty in `Chunk` and `Length` modes and for an
 *   unterminated last frame. `bytes` may share memory with a fed chunk: copy it if you reuse your buffers.
 * - `Oversized`: a frame longer than `max` bytes was dropped. `length` is its payload length and `complete` is
 *   true when the whole frame was seen (under `"skip"`, when its delimiter arrived; in `Length` mode, as soon as
 *   its prefix announced it). `complete` is false when the decoder stopped early (under `"close"`: `length` is
 *   the number of its bytes seen when the limit was known to be exceeded) or the input ended inside it.
 *   `ending` is the delimiter that ended it, as for `Frame`: empty unless `complete` in `Line`/`Delimiter` mode.
 * - `Incomplete` (`Length` mode): the input ended inside a frame. Both counts include the length prefix:
 *   `length` bytes of the frame were received, out of `expected` (just `lengthBytes` if the prefix itself is
 *   incomplete).
 *
 * @since 0.1.0
 * @category models
 */
export type FrameEvent = Event.FrameEvent

/**
 * A stateful decoder for one byte stream. However the input is split into chunks, it reports the same
 * events. After the end of input, and after an oversized frame under the `"close"` policy, it ignores any input.
 *
 * Two ways to use it, not to be mixed on one chunk:
 * - pull: `feed(chunk)`, then `next()` until it returns `undefined`, then the next chunk; `finish()` at the end
 *   of input, then `next()` until `undefined`. Each `next()` decodes one frame, so a chunk of many small frames
 *   costs one event at a time, not one object per frame at once; the decoder keeps a reference to the fed chunk
 *   until it is consumed. `feed` throws if the previous chunk is not consumed yet (a defect in the caller).
 * - push: `push(chunk)` returns all the events the chunk completes, `end()` those of the end of input.
 *
 * `buffered` is the number of bytes held, not counting the fed chunk not yet consumed: never more than
 * `maxFrameBytes` + the delimiter's length (2 for lines) - 1 in `Line`/`Delimiter` mode,
 * `max(maxFrameBytes, lengthBytes)` in `Length` mode, 0 in `Chunk` mode.
 *
 * @since 0.1.0
 * @category models
 */
export type FrameDecoder = Event.FrameDecoder

/**
 * A `Length` frame's payload is too long for its prefix.
 *
 * @since 0.1.0
 * @category errors
 */
export class FrameTooLongError extends Data.TaggedError("FrameTooLongError")<{
  readonly length: number
  readonly lengthBytes: 1 | 2 | 4
}> {
  override get message(): string {
    return `a ${this.length}-byte payload does not fit a ${this.lengthBytes}-byte length prefix, which can announce ` +
      `at most ${maxLengthFor(this.lengthBytes)} bytes: split the payload or use a longer prefix`
  }
}

/**
 * The text of a delimiter could not be read.
 *
 * @since 0.1.0
 * @category errors
 */
export const DelimiterError: typeof DelimiterText.DelimiterError = DelimiterText.DelimiterError

/**
 * @since 0.1.0
 * @category errors
 */
export type DelimiterError = DelimiterText.DelimiterError

/**
 * A delimiter (or, in `Line` mode, LF or CR) contains bytes that can occur inside a multi-byte character of the
 * connection's encoding, so a frame could be cut in the middle of a character.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsafeDelimiterError extends Data.TaggedError("UnsafeDelimiterError")<{
  readonly framing: "Line" | "Delimiter"
  readonly delimiter: Uint8Array
  readonly encoding: string
  /** The unsafe byte values of the delimiter. */
  readonly bytes: ReadonlyArray<number>
}> {
  override get message(): string {
    const { advice, roles } = EncodingBytes.explainUnsafe(this.encoding, this.bytes)
    if (this.framing === "Line") {
      return `line framing is not possible with ${this.encoding}: ${roles}, so a line break could be found in the ` +
        `middle of a character; ${advice}`
    }
    const bytes = Array.from(this.delimiter, (byte) => "0x" + byte.toString(16).toUpperCase().padStart(2, "0"))
    return `delimiter "${DelimiterText.showDelimiter(this.delimiter)}" (${bytes.join(" ")}) is unsafe with ` +
      `${this.encoding}: ${roles}, so a frame could be cut in the middle of a character; ${advice}`
  }
}

/**
 * A framing option is out of range.
 *
 * @since 0.1.0
 * @category errors
 */
export class FramingOptionError extends Data.TaggedError("FramingOptionError")<{
  readonly reason: "MaxFrameBytes" | "LengthBytes" | "TooLargeForPrefix" | "EmptyDelimiter" | "OnOversized"
  readonly value: unknown
  /** For `TooLargeForPrefix`. */
  readonly lengthBytes?: 1 | 2 | 4
}> {
  override get message(): string {
    switch (this.reason) {
      case "MaxFrameBytes":
        return `the maximum frame size must be a positive whole number of bytes, got ${String(this.value)}`
      case "LengthBytes":
        return `a length prefix has 1, 2 or 4 bytes, got ${String(this.value)}`
      case "TooLargeForPrefix": {
        const lengthBytes = this.lengthBytes ?? 1
        const longer = lengthBytes === 1 ? "a 2- or 4-byte prefix" : "a 4-byte prefix"
        return `the maximum frame size ${String(this.value)} does not fit a ${lengthBytes}-byte length prefix, ` +
          `which can announce at most ${maxLengthFor(lengthBytes)} bytes: lower the maximum to at most ` +
          `${maxLengthFor(lengthBytes)}, or use ${longer}`
      }
      case "EmptyDelimiter":
        return "the delimiter is empty: give at least one byte"
      case "OnOversized":
        return `the oversized-frame policy must be "skip" or "close", got ${String(this.value)}`
    }
  }
}

/**
 * A new decoder for one byte stream. Check the framing with {@link validate} first; the decoder does not throw
 * on an unchecked one, but its results are then of little use: a maximum that is not a number counts as 0 (every
 * non-empty frame is oversized) and an empty delimiter never matches.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDecoder = (framing: Framing): FrameDecoder => {
  if (framing._tag === "Chunk") return ChunkDecoder.make()
  const max = framing.maxFrameBytes >= 0 ? framing.maxFrameBytes : 0
  const close = framing.onOversized === "close"
  switch (framing._tag) {
    case "Line":
      return DelimiterDecoder.make(Event.lf, true, max, close)
    case "Delimiter":
      return DelimiterDecoder.make(framing.delimiter, false, max, close)
    case "Length":
      return LengthDecoder.make(framing.lengthBytes, max, close)
  }
}

/**
 * Frames `payload` for sending: as is (`Chunk`), followed by `ending` (`Line`: `"\n"` unless given, e.g.
 * `"\r\n"`) or by the delimiter (`Delimiter`), or preceded by its length (`Length`), failing if the length does not
 * fit the prefix. `ending` is only used in `Line` mode. The payload should not contain the delimiter, nor LF in
 * `Line` mode: the receiver would see several frames. `maxFrameBytes` only applies to decoding.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeFrame = (
  framing: Framing,
  payload: Uint8Array,
  ending?: Uint8Array
): Either.Either<Uint8Array, FrameTooLongError> => {
  switch (framing._tag) {
    case "Chunk":
      return Either.right(payload)
    case "Line":
      return Either.right(Buffer.concat([payload, ending ?? Event.lf]))
    case "Delimiter":
      return Either.right(Buffer.concat([payload, framing.delimiter]))
    case "Length": {
      const lengthBytes = framing.lengthBytes
      if (payload.length > maxLengthFor(lengthBytes)) {
        return Either.left(new FrameTooLongError({ length: payload.length, lengthBytes }))
      }
      const out = Buffer.allocUnsafe(lengthBytes + payload.length)
      out.writeUIntBE(payload.length, 0, lengthBytes)
      out.set(payload, lengthBytes)
      return Either.right(out)
    }
  }
}
/**
 * Reads a delimiter written as ASCII text with escapes: `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH`, e.g. `"\\x03"`,
 * `"\\r\\n"` or `"END"`. Other characters must be ASCII; write other bytes as `\xHH`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseDelimiter: (text: string) => Effect.Effect<Uint8Array, DelimiterError> = DelimiterText.parseDelimiter

/**
 * The byte values that can occur inside a multi-byte character of `encoding`, found by encoding every
 * character of the Basic Multilingual Plane and a sample of the others, and cached. A delimiter made of other
 * bytes can never cut a character. The encoding must be one iconv-lite knows (see `Encoding.validate`):
 * otherwise this throws.
 *
 * @since 0.1.0
 * @category encoding
 */
export const unsafeBytes: (encoding: string) => ReadonlySet<number> = EncodingBytes.unsafeBytes

/**
 * Byte values as sorted ranges, e.g. `"0x40–0x7E, 0x81–0xFE"`; `"none"` for an empty set.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatRanges: (set: ReadonlySet<number>) => string = EncodingBytes.formatRanges

/**
 * One row of {@link safeDelimiterTable}: `encoding`; `unsafe`, its unsafe byte values as {@link formatRanges}
 * writes them; whether line framing (LF and CR), ETX (0x03) and CRLF are safe.
 *
 * @since 0.1.0
 * @category models
 */
export type SafeDelimiterRow = EncodingBytes.SafeDelimiterRow

/**
 * Which delimiters are safe with each encoding, e.g. for a README table. The encodings must be known to
 * iconv-lite.
 *
 * @since 0.1.0
 * @category utils
 */
export const safeDelimiterTable: (encodings: ReadonlyArray<string>) => ReadonlyArray<SafeDelimiterRow> =
  EncodingBytes.safeDelimiterTable

const positiveInteger = (value: number): boolean => Number.isSafeInteger(value) && value > 0

/**
 * Checks a framing's options, and that its delimiter (LF and CR in `Line` mode) cannot occur inside a
 * multi-byte character of `encoding`. Returns the framing unchanged.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (
  framing: Framing,
  encoding: string
): Effect.Effect<Framing, UnsafeDelimiterError | FramingOptionError | Encoding.UnknownEncodingError> =>
  Effect.gen(function*() {
    yield* Encoding.validate(encoding)
    if (framing._tag === "Chunk") return framing
    if (!positiveInteger(framing.maxFrameBytes)) {
      return yield* new FramingOptionError({ reason: "MaxFrameBytes", value: framing.maxFrameBytes })
    }
    if (framing.onOversized !== "skip" && framing.onOversized !== "close") {
      return yield* new FramingOptionError({ reason: "OnOversized", value: framing.onOversized })
    }
    switch (framing._tag) {
      case "Length": {
        const lengthBytes: number = framing.lengthBytes
        if (lengthBytes !== 1 && lengthBytes !== 2 && lengthBytes !== 4) {
          return yield* new FramingOptionError({ reason: "LengthBytes", value: lengthBytes })
        }
        if (framing.maxFrameBytes > maxLengthFor(framing.lengthBytes)) {
          return yield* new FramingOptionError({
            reason: "TooLargeForPrefix",
            value: framing.maxFrameBytes,
            lengthBytes: framing.lengthBytes
          })
        }
        return framing
      }
      case "Line":
      case "Delimiter": {
        const delimiter = framing._tag === "Line" ? Event.crlf : framing.delimiter
        if (delimiter.length === 0) return yield* new FramingOptionError({ reason: "EmptyDelimiter", value: "" })
        const unsafe = EncodingBytes.unsafeBytes(encoding)
        const bytes = [...new Set(delimiter)].filter((byte) => unsafe.has(byte))
        if (bytes.length > 0) {
          return yield* new UnsafeDelimiterError({ framing: framing._tag, delimiter, encoding, bytes })
        }
        return framing
      }
    }
  })
