/**
 * Framing: cutting a byte stream into messages (frames) and back, independently of the transport and of the
 * text encoding, in the spirit of Netty's frame decoders and Tokio's codecs.
 *
 * A {@link FrameDecoder} is a plain synchronous object fed with the chunks read from a connection; it keeps
 * at most about `maxFrameBytes` bytes, however long the input. Effect is only used to validate a
 * {@link Framing} against the text encoding of the connection, since a delimiter byte that can occur inside
 * a multi-byte character would cut frames in the middle of characters.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import Iconv from "iconv-lite"
import * as Encoding from "./Encoding.js"

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
 *   unterminated last frame. `bytes` may share memory with a pushed chunk: copy it if you reuse your buffers.
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
export type FrameEvent =
  | { readonly _tag: "Frame"; readonly bytes: Uint8Array; readonly ending: Uint8Array }
  | {
    readonly _tag: "Oversized"
    readonly length: number
    readonly max: number
    readonly complete: boolean
    readonly ending: Uint8Array
  }
  | { readonly _tag: "Incomplete"; readonly length: number; readonly expected: number }

/**
 * A stateful decoder for one byte stream. However the input is split into chunks, it reports the same
 * events. After `end()`, and after an oversized frame under the `"close"` policy, it ignores any input.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameDecoder {
  readonly push: (chunk: Uint8Array) => ReadonlyArray<FrameEvent>
  readonly end: () => ReadonlyArray<FrameEvent>
  /**
   * Bytes currently held: never more than `maxFrameBytes` + the delimiter's length (2 for lines) - 1 in
   * `Line`/`Delimiter` mode, `max(maxFrameBytes, lengthBytes)` in `Length` mode, 0 in `Chunk` mode.
   */
  readonly buffered: number
}

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
export class DelimiterError extends Data.TaggedError("DelimiterError")<{
  readonly text: string
  readonly reason: "Empty" | "NonAscii" | "BadEscape"
  /** Index in `text` of the offending character or escape. */
  readonly index: number
}> {
  override get message(): string {
    const escapes = "use \\n, \\r, \\t, \\0, \\\\ or \\xHH (two hex digits)"
    switch (this.reason) {
      case "Empty":
        return "the delimiter is empty: give at least one byte, for example \\x03 or \\r\\n"
      case "NonAscii": {
        const char = String.fromCodePoint(this.text.codePointAt(this.index) ?? 0)
        return `delimiter "${this.text}": "${char}" at position ${this.index} is not ASCII, and its bytes would ` +
          `depend on the encoding; write the bytes you mean as \\xHH escapes`
      }
      case "BadEscape":
        return `delimiter "${this.text}": invalid escape "${this.text.slice(this.index, this.index + 4)}" at ` +
          `position ${this.index}; ${escapes}`
    }
  }
}

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
    const analysis = Iconv.encodingExists(this.encoding) ? analyse(this.encoding) : undefined
    // Bytes with the same roles are described together.
    const byRoles = new Map<string, Array<string>>()
    for (const byte of [...this.bytes].sort((a, b) => a - b)) {
      const where = analysis === undefined ? "part of a multi-byte" : describeRoles(analysis.roles[byte])
      const name = byte === LF ? " (LF)" : byte === CR ? " (CR)" : ""
      byRoles.set(where, [...(byRoles.get(where) ?? []), hex(byte) + name])
    }
    const roles = [...byRoles].map(([where, bytes]) =>
      `${bytes.length === 1 ? "byte" : "bytes"} ${list(bytes, "and")} can occur as ${where} ${this.encoding} character`
    ).join("; ")
    const safe = analysis === undefined ? [] : complement(analysis.unsafe)
    const advice = safe.length === 0
      ? `no byte is safe as a delimiter with ${this.encoding}: use --framing length`
      : `choose a delimiter made of bytes in ${formatRanges(new Set(safe))}, or use --framing length`
    if (this.framing === "Line") {
      return `line framing is not possible with ${this.encoding}: ${roles}, so a line break could be found in the ` +
        `middle of a character; ${advice}`
    }
    return `delimiter "${showBytes(this.delimiter)}" (${[...this.delimiter].map(hex).join(" ")}) is unsafe with ` +
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

// ---------------------------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------------------------

const LF = 0x0a
const CR = 0x0d
const empty = new Uint8Array(0)
const lf = Uint8Array.of(LF)
const crlf = Uint8Array.of(CR, LF)
const none: ReadonlyArray<FrameEvent> = []

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * The bytes of a partial frame, copied (callers may reuse their buffers) into one buffer that grows by
 * doubling, up to `limit`: appending is amortised O(1) per byte, and many small reads do not cost one object
 * each.
 */
class Accumulator {
  private buffer: Uint8Array = empty
  length = 0

  constructor(private readonly limit: number) {}

  append(bytes: Uint8Array): void {
    const needed = this.length + bytes.length
    if (needed > this.buffer.length) {
      const doubled = Math.max(256, 2 * this.buffer.length)
      const grown = new Uint8Array(Math.max(needed, doubled > this.limit ? this.limit : doubled))
      grown.set(this.buffer.subarray(0, this.length))
      this.buffer = grown
    }
    this.buffer.set(bytes, this.length)
    this.length = needed
  }

  /** The first `size` bytes, completed from `rest` if needed, handed over without copy; then empties. */
  take(size: number, rest: Uint8Array = empty): Uint8Array {
    if (size > this.length) this.append(rest.subarray(0, size - this.length))
    const bytes = this.buffer.subarray(0, size)
    this.clear()
    return bytes
  }

  clear(): void {
    this.buffer = empty
    this.length = 0
  }
}

const frameEvent = (bytes: Uint8Array, ending: Uint8Array): FrameEvent => ({ _tag: "Frame", bytes, ending })

const oversizedEvent = (length: number, max: number, complete: boolean, ending: Uint8Array): FrameEvent => ({
  _tag: "Oversized",
  length,
  max,
  complete,
  ending
})

class ChunkDecoder implements FrameDecoder {
  private ended = false
  readonly buffered = 0
  readonly push = (chunk: Uint8Array): ReadonlyArray<FrameEvent> =>
    this.ended || chunk.length === 0 ? none : [frameEvent(chunk, empty)]
  readonly end = (): ReadonlyArray<FrameEvent> => {
    this.ended = true
    return none
  }
}

/**
 * `Line` and `Delimiter` modes. The bytes of the current frame seen so far are `seen`; in state `Frame` they
 * are held in `held`; in state `Discard` (an oversized frame under "skip") only their last bytes are kept, in
 * `tail`, to find a delimiter split across chunks.
 *
 * A frame is known to be oversized once `seen - overlap > max`, where `overlap` is the length of the longest
 * end of the frame that could be the start of the delimiter (for lines: 1 if it ends with CR). Hence the
 * decoder holds at most `max + delimiter length - 1` bytes, and under "close" reports the same `length`
 * however the input is split.
 */
class DelimiterDecoder implements FrameDecoder {
  private state: "Frame" | "Discard" | "Done" = "Frame"
  private readonly held: Accumulator
  private seen = 0
  private tail: Uint8Array = empty
  /** Bytes kept in `tail`. */
  private readonly keep: number
  /** End, in the current chunk, of the delimiter found by `find`. */
  private matchEnd = 0

  constructor(
    private readonly delimiter: Uint8Array,
    private readonly lines: boolean,
    private readonly max: number,
    private readonly close: boolean
  ) {
    this.keep = lines ? 1 : Math.max(0, delimiter.length - 1)
    this.held = new Accumulator(max + this.keep)
  }

  get buffered(): number {
    // While a frame is held, the tail is a copy of its last bytes.
    return Math.max(this.held.length, this.tail.length)
  }

  /** A method, so that TypeScript does not keep a narrowing of `state` across the calls that change it. */
  private running(): boolean {
    return this.state !== "Done"
  }

  readonly push = (input: Uint8Array): ReadonlyArray<FrameEvent> => {
    if (this.state === "Done" || input.length === 0) return none
    const chunk = asBuffer(input)
    const events: Array<FrameEvent> = []
    let pos = 0
    while (pos < chunk.length && this.running()) {
      const start = this.find(chunk, pos)
      if (start < 0) {
        this.absorb(chunk, pos, events)
        break
      }
      this.complete(chunk, pos, start, events)
      pos = this.matchEnd
    }
    return events
  }

  readonly end = (): ReadonlyArray<FrameEvent> => {
    const state = this.state
    const seen = this.seen
    const bytes = this.held.take(this.held.length)
    this.state = "Done"
    this.tail = empty
    if (state === "Discard") return [oversizedEvent(seen, this.max, false, empty)]
    if (state === "Done" || seen === 0) return none
    // An unterminated last frame: a trailing CR or partial delimiter is data.
    return seen > this.max ? [oversizedEvent(seen, this.max, false, empty)] : [frameEvent(bytes, empty)]
  }

  /**
   * The position in the current frame of the next delimiter that ends in `chunk` at or after `pos`, or -1.
   * Sets `matchEnd`.
   */
  private find(chunk: Buffer, pos: number): number {
    const seen = this.seen
    if (this.lines) {
      const index = chunk.indexOf(LF, pos)
      if (index < 0) return -1
      this.matchEnd = index + 1
      return seen + index - pos
    }
    const delimiter = this.delimiter
    const size = delimiter.length
    if (size === 0) return -1
    const tail = this.tail
    // A delimiter starting in the tail of the frame (earliest start first) and ending in this chunk.
    for (let i = 0; i < tail.length; i++) {
      const inTail = tail.length - i
      const inChunk = size - inTail
      if (inChunk > chunk.length - pos) break
      if (startsWith(tail, i, delimiter, 0, inTail) && startsWith(chunk, pos, delimiter, inTail, inChunk)) {
        this.matchEnd = pos + inChunk
        return seen - inTail
      }
    }
    const index = chunk.indexOf(delimiter, pos)
    if (index < 0) return -1
    this.matchEnd = index + size
    return seen + index - pos
  }

  /** The current frame ends where a delimiter starts, at `start`. */
  private complete(chunk: Buffer, pos: number, start: number, events: Array<FrameEvent>): void {
    let size = start
    let ending = this.delimiter
    if (this.lines) {
      ending = lf
      if (start > 0 && this.byteAt(chunk, pos, start - 1) === CR) {
        size = start - 1
        ending = crlf
      }
    }
    if (this.state === "Discard") {
      events.push(oversizedEvent(size, this.max, true, ending))
    } else if (size <= this.max) {
      const bytes = this.seen === 0 ? chunk.subarray(pos, pos + size) : this.held.take(size, chunk.subarray(pos))
      events.push(frameEvent(bytes, ending))
    } else if (this.close) {
      this.stop(chunk, pos, events)
      return
    } else {
      events.push(oversizedEvent(size, this.max, true, ending))
    }
    this.state = "Frame"
    this.held.clear()
    this.seen = 0
    this.tail = empty
  }

  /** No delimiter ends in the rest of `chunk`: it all belongs to the current frame. */
  private absorb(chunk: Buffer, pos: number, events: Array<FrameEvent>): void {
    const rest = chunk.length - pos
    const seen = this.seen + rest
    const tail = lastBytes(this.tail, chunk.subarray(pos), this.keep)
    if (this.state === "Frame" && seen - this.overlap(tail) > this.max) {
      if (this.close) {
        this.stop(chunk, pos, events)
        return
      }
      this.state = "Discard"
      this.held.clear()
    } else if (this.state === "Frame") {
      this.held.append(chunk.subarray(pos))
    }
    this.seen = seen
    this.tail = tail
  }

  /** Under "close": reports the frame at the first byte that makes it oversized, and stops. */
  private stop(chunk: Buffer, pos: number, events: Array<FrameEvent>): void {
    const available = this.seen + chunk.length - pos
    let at = Math.max(this.seen, this.max) + 1
    while (at < available) {
      const window = new Uint8Array(Math.min(this.keep, at))
      for (let i = 0; i < window.length; i++) window[i] = this.byteAt(chunk, pos, at - window.length + i)
      if (at - this.overlap(window) > this.max) break
      at++
    }
    events.push(oversizedEvent(at, this.max, false, empty))
    this.state = "Done"
    this.held.clear()
    this.tail = empty
  }

  /** Byte `index` of the current frame, which must be in the tail or in `chunk` from `pos`. */
  private byteAt(chunk: Buffer, pos: number, index: number): number {
    return index >= this.seen
      ? chunk[pos + index - this.seen] ?? 0
      : this.tail[index - this.seen + this.tail.length] ?? 0
  }

  /** The length of the longest end of `bytes` that could be the start of a delimiter. */
  private overlap(bytes: Uint8Array): number {
    if (this.lines) return bytes.length > 0 && bytes[bytes.length - 1] === CR ? 1 : 0
    for (let size = Math.min(this.keep, bytes.length); size > 0; size--) {
      if (startsWith(bytes, bytes.length - size, this.delimiter, 0, size)) return size
    }
    return 0
  }
}

/** Whether `bytes[at, at + size)` equals `pattern[from, from + size)`. */
const startsWith = (bytes: Uint8Array, at: number, pattern: Uint8Array, from: number, size: number): boolean => {
  for (let i = 0; i < size; i++) {
    if (bytes[at + i] !== pattern[from + i]) return false
  }
  return true
}

/** A copy of the last `keep` bytes of `before` followed by `rest`. */
const lastBytes = (before: Uint8Array, rest: Uint8Array, keep: number): Uint8Array => {
  if (keep === 0) return empty
  if (rest.length >= keep) return new Uint8Array(rest.subarray(rest.length - keep))
  const fromBefore = Math.min(keep - rest.length, before.length)
  const out = new Uint8Array(fromBefore + rest.length)
  out.set(before.subarray(before.length - fromBefore))
  out.set(rest, fromBefore)
  return out
}

class LengthDecoder implements FrameDecoder {
  private state: "Prefix" | "Payload" | "Skip" | "Done" = "Prefix"
  private readonly prefix: Uint8Array
  private got = 0
  /** Payload length announced by the last prefix. */
  private expected = 0
  private readonly held: Accumulator
  /** Payload bytes received (state Payload) or discarded (state Skip). */
  private seen = 0

  constructor(private readonly lengthBytes: 1 | 2 | 4, private readonly max: number, private readonly close: boolean) {
    this.prefix = new Uint8Array(lengthBytes)
    this.held = new Accumulator(max)
  }

  get buffered(): number {
    return this.got + this.held.length
  }

  readonly push = (chunk: Uint8Array): ReadonlyArray<FrameEvent> => {
    if (this.state === "Done" || chunk.length === 0) return none
    const events: Array<FrameEvent> = []
    let pos = 0
    while (pos < chunk.length) {
      const available = chunk.length - pos
      if (this.state === "Prefix") {
        const take = Math.min(this.lengthBytes - this.got, available)
        this.prefix.set(chunk.subarray(pos, pos + take), this.got)
        this.got += take
        pos += take
        if (this.got < this.lengthBytes) break
        this.got = 0
        this.seen = 0
        this.expected = readLength(this.prefix)
        if (this.expected > this.max) {
          events.push(oversizedEvent(this.expected, this.max, true, empty))
          if (this.close) {
            this.state = "Done"
            break
          }
          this.state = "Skip"
        } else if (this.expected === 0) {
          events.push(frameEvent(empty, empty))
        } else {
          this.state = "Payload"
        }
      } else if (this.state === "Payload") {
        const take = Math.min(this.expected - this.seen, available)
        const part = chunk.subarray(pos, pos + take)
        pos += take
        if (take === this.expected) {
          events.push(frameEvent(part, empty))
          this.state = "Prefix"
          continue
        }
        this.held.append(part)
        this.seen += take
        if (this.seen === this.expected) {
          events.push(frameEvent(this.held.take(this.expected), empty))
          this.state = "Prefix"
        }
      } else {
        const take = Math.min(this.expected - this.seen, available)
        this.seen += take
        pos += take
        if (this.seen === this.expected) this.state = "Prefix"
      }
    }
    return events
  }

  readonly end = (): ReadonlyArray<FrameEvent> => {
    const state = this.state
    const got = this.got
    this.state = "Done"
    this.got = 0
    this.held.clear()
    switch (state) {
      case "Prefix":
        return got === 0 ? none : [{ _tag: "Incomplete", length: got, expected: this.lengthBytes }]
      case "Payload":
      case "Skip":
        return [{
          _tag: "Incomplete",
          length: this.lengthBytes + this.seen,
          expected: this.lengthBytes + this.expected
        }]
      case "Done":
        return none
    }
  }
}

const readLength = (prefix: Uint8Array): number => {
  let value = 0
  for (const byte of prefix) value = value * 256 + byte
  return value
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
  if (framing._tag === "Chunk") return new ChunkDecoder()
  const max = framing.maxFrameBytes >= 0 ? framing.maxFrameBytes : 0
  const close = framing.onOversized === "close"
  switch (framing._tag) {
    case "Line":
      return new DelimiterDecoder(lf, true, max, close)
    case "Delimiter":
      return new DelimiterDecoder(framing.delimiter, false, max, close)
    case "Length":
      return new LengthDecoder(framing.lengthBytes, max, close)
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
      return Either.right(Buffer.concat([payload, ending ?? lf]))
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

// ---------------------------------------------------------------------------------------------------------------
// delimiters and encodings
// ---------------------------------------------------------------------------------------------------------------

const simpleEscapes = new Map([["n", 0x0a], ["r", 0x0d], ["t", 0x09], ["0", 0x00], ["\\", 0x5c]])

/**
 * Reads a delimiter written as ASCII text with escapes: `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH`, e.g. `"\\x03"`,
 * `"\\r\\n"` or `"END"`. Other characters must be ASCII; write other bytes as `\xHH`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseDelimiter = (text: string): Effect.Effect<Uint8Array, DelimiterError> =>
  Effect.suspend(() => {
    if (text.length === 0) return Effect.fail(new DelimiterError({ text, reason: "Empty", index: 0 }))
    const bytes: Array<number> = []
    let i = 0
    while (i < text.length) {
      const code = text.charCodeAt(i)
      if (code > 0x7f) return Effect.fail(new DelimiterError({ text, reason: "NonAscii", index: i }))
      if (code !== 0x5c) {
        bytes.push(code)
        i++
        continue
      }
      const escape = text.charAt(i + 1)
      const simple = simpleEscapes.get(escape)
      if (simple !== undefined) {
        bytes.push(simple)
        i += 2
      } else if (escape === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
        bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16))
        i += 4
      } else {
        return Effect.fail(new DelimiterError({ text, reason: "BadEscape", index: i }))
      }
    }
    return Effect.succeed(Uint8Array.from(bytes))
  })

interface Analysis {
  readonly unsafe: ReadonlySet<number>
  /** Per byte value, where it occurs in multi-byte characters: see `roleBit`. */
  readonly roles: Uint32Array
}

const analyses = new Map<string, Analysis>()

/** Bit for "byte `index` of a `size`-byte character"; sizes above 4 share one bit. */
const roleBit = (index: number, size: number): number => size > 4 ? 1 << 12 : 1 << ((size - 2) * 4 + index)

/** The characters tried: every BMP scalar value and every 256th supplementary code point. */
const sampleCharacters = (): Array<string> => {
  const chars: Array<string> = []
  for (let code = 0; code < 0xd800; code++) chars.push(String.fromCharCode(code))
  for (let code = 0xe000; code <= 0xffff; code++) chars.push(String.fromCharCode(code))
  for (let code = 0x10000; code <= 0x10ffff; code += 0x100) chars.push(String.fromCodePoint(code))
  return chars
}

/**
 * Encodes each sample character and records where each byte of a multi-byte result occurs. A result counts
 * only if it decodes back to the character: iconv-lite encodes unmappable characters as "?".
 *
 * One character at a time, this takes 100 to 200 ms for the Chinese encodings. So, when NUL encodes as the
 * single byte 0x00, all the characters are encoded at once, each followed by NUL, and decoded back at once; the
 * results are cut at the zero bytes, and the decoded text at the NULs. If the bytes hold other zeros, it is done
 * one character at a time; if the decoded text does not split into as many parts, each result is decoded alone.
 */
const analyse = (encoding: string): Analysis => {
  const cached = analyses.get(encoding)
  if (cached !== undefined) return cached
  const roles = new Uint32Array(256)
  const encoder = Iconv.getEncoder(encoding)
  const decoder = Iconv.getDecoder(encoding)
  const encode = (text: string): Buffer => {
    const head = encoder.write(text)
    const rest = encoder.end()
    return rest === undefined || rest.length === 0 ? head : Buffer.concat([head, rest])
  }
  const decode = (bytes: Buffer): string => {
    const head = decoder.write(bytes)
    // Not `?? ""`: iconv-lite's cesu8 decoder ends with the number 0.
    const rest: unknown = decoder.end()
    return typeof rest === "string" ? head + rest : head
  }
  const record = (bytes: Buffer, from: number, to: number): void => {
    for (let i = from; i < to; i++) roles[bytes[i]] |= roleBit(i - from, to - from)
  }
  const chars = sampleCharacters()

  const atOnce = (): boolean => {
    const nul = encode("\0")
    if (nul.length !== 1 || nul[0] !== 0) return false
    const sample = chars.slice(1)
    const bytes = encode(sample.join("\0") + "\0")
    const ends = new Int32Array(sample.length)
    let pos = 0
    for (let i = 0; i < sample.length; i++) {
      const end = bytes.indexOf(0, pos)
      if (end < 0) return false
      ends[i] = end
      pos = end + 1
    }
    if (pos !== bytes.length) return false
    const decoded = decode(bytes).split("\0")
    const aligned = decoded.length === sample.length + 1
    let start = 0
    sample.forEach((char, i) => {
      const end = ends[i]
      if (end - start > 1) {
        const back = aligned ? decoded[i] : decode(bytes.subarray(start, end))
        if (back === char) record(bytes, start, end)
      }
      start = end + 1
    })
    return true
  }

  if (!atOnce()) {
    for (const char of chars) {
      const bytes = encode(char)
      if (bytes.length > 1 && decode(bytes) === char) record(bytes, 0, bytes.length)
    }
  }
  const unsafe = new Set<number>()
  roles.forEach((bits, byte) => {
    if (bits !== 0) unsafe.add(byte)
  })
  const analysis: Analysis = { unsafe, roles }
  analyses.set(encoding, analysis)
  return analysis
}

/**
 * The byte values that can occur inside a multi-byte character of `encoding`, found by encoding every
 * character of the Basic Multilingual Plane and a sample of the others, and cached. A delimiter made of other
 * bytes can never cut a character. The encoding must be one iconv-lite knows (see `Encoding.validate`):
 * otherwise this throws.
 *
 * @since 0.1.0
 * @category encoding
 */
export const unsafeBytes = (encoding: string): ReadonlySet<number> => analyse(encoding).unsafe

const hex = (byte: number): string => "0x" + byte.toString(16).toUpperCase().padStart(2, "0")

const ordinals = ["first", "second", "third", "fourth"]
const sizes = ["two-byte", "three-byte", "four-byte"]

const describeRoles = (bits: number): string => {
  const parts: Array<string> = []
  for (let size = 2; size <= 4; size++) {
    const indexes = ordinals.filter((_, index) => index < size && (bits & roleBit(index, size)) !== 0)
    if (indexes.length > 0) {
      parts.push(`the ${list(indexes, "or")} byte of a ${sizes[size - 2]}`)
    }
  }
  if ((bits & roleBit(0, 5)) !== 0) parts.push("a byte of a longer")
  return parts.length === 0 ? "part of a multi-byte" : list(parts, "or")
}

/** "a", "a or b", "a, b or c"; with more than two items of several words, "a, b, or c". */
const list = (items: ReadonlyArray<string>, conjunction: "and" | "or"): string => {
  if (items.length <= 2) return items.join(` ${conjunction} `)
  const comma = items.some((item) => item.includes(" ")) ? "," : ""
  return `${items.slice(0, -1).join(", ")}${comma} ${conjunction} ${items[items.length - 1]}`
}

const complement = (set: ReadonlySet<number>): Array<number> => {
  const out: Array<number> = []
  for (let byte = 0; byte < 256; byte++) if (!set.has(byte)) out.push(byte)
  return out
}

/** The delimiter as it would be written for {@link parseDelimiter}. */
const showBytes = (bytes: Uint8Array): string =>
  [...bytes].map((byte) => {
    switch (byte) {
      case 0x0a:
        return "\\n"
      case 0x0d:
        return "\\r"
      case 0x09:
        return "\\t"
      case 0x00:
        return "\\0"
      case 0x5c:
        return "\\\\"
      case 0x22:
        return "\\x22"
      default:
        return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : "\\x" + hex(byte).slice(2)
    }
  }).join("")

/**
 * Byte values as sorted ranges, e.g. `"0x40–0x7E, 0x81–0xFE"`; `"none"` for an empty set.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatRanges = (set: ReadonlySet<number>): string => {
  const sorted = [...set].sort((a, b) => a - b)
  const ranges: Array<string> = []
  let i = 0
  while (i < sorted.length) {
    const first = sorted[i] ?? 0
    let last = first
    while (i + 1 < sorted.length && sorted[i + 1] === last + 1) {
      i++
      last = sorted[i] ?? last
    }
    ranges.push(first === last ? hex(first) : `${hex(first)}–${hex(last)}`)
    i++
  }
  return ranges.length === 0 ? "none" : ranges.join(", ")
}

/**
 * One row of {@link safeDelimiterTable}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SafeDelimiterRow {
  readonly encoding: string
  /** The unsafe byte values, as {@link formatRanges} writes them. */
  readonly unsafe: string
  /** Line framing (LF and CR) is safe. */
  readonly lfSafe: boolean
  /** ETX (0x03) is a safe delimiter. */
  readonly etxSafe: boolean
  /** CRLF is a safe delimiter. */
  readonly crlfSafe: boolean
}

/**
 * Which delimiters are safe with each encoding, e.g. for a README table. The encodings must be known to
 * iconv-lite.
 *
 * @since 0.1.0
 * @category utils
 */
export const safeDelimiterTable = (encodings: ReadonlyArray<string>): ReadonlyArray<SafeDelimiterRow> =>
  encodings.map((encoding) => {
    const unsafe = unsafeBytes(encoding)
    const lfSafe = !unsafe.has(LF) && !unsafe.has(CR)
    return { encoding, unsafe: formatRanges(unsafe), lfSafe, etxSafe: !unsafe.has(0x03), crlfSafe: lfSafe }
  })

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
        const delimiter = framing._tag === "Line" ? crlf : framing.delimiter
        if (delimiter.length === 0) return yield* new FramingOptionError({ reason: "EmptyDelimiter", value: "" })
        const unsafe = unsafeBytes(encoding)
        const bytes = [...new Set(delimiter)].filter((byte) => unsafe.has(byte))
        if (bytes.length > 0) {
          return yield* new UnsafeDelimiterError({ framing: framing._tag, delimiter, encoding, bytes })
        }
        return framing
      }
    }
  })
