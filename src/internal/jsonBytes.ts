/**
 * The json format ({@link LogFormat.json}) written as UTF-8 bytes straight into the log buffer, for the lines a
 * connection logs for its messages: the same bytes as encoding the record's line, without building that line.
 *
 * Why: a message record is a two-byte string (the message and text are the client's, often Chinese) of about
 * 190 code units, made of a dozen pieces. V8 joins the pieces into a rope, flattens it when it is encoded, then
 * encodes it: 0.55–0.6 µs a line on Node 20 beside 0.35 µs of formatting, where the tutorial's line costs 0.2 µs
 * in all (by hand: a million records of a connection formatted and encoded in a loop). Here the parts that are
 * the same on every line (the timestamp and level of a millisecond, the connection's fields, the field names) are
 * encoded once and copied, and only the message and the text are encoded, by a loop that escapes as it goes: a
 * short string costs less in that loop than a call into the encoder does (about 70 ns), a long one is handed to
 * the encoder. A message line through the log buffer: 0.5–1.0 µs, against 1.0–1.7 µs as a string (by hand, a
 * million records pushed in a loop, noisy); in `npm run bench`, pingpong with 100 connections logging json went
 * from 0.84 to 0.95–1.00 of the same with the tutorial's lines (BENCHMARKS.md).
 *
 * Any other record (one with a cause, annotations out of order, values other than strings, numbers and booleans)
 * is formatted as a string and pushed as it is. `test/JsonBytes.test.ts` checks both ways give the same bytes.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as LogLevel from "effect/LogLevel"
import type * as FiberLog from "./fiberLog.js"
import type * as LogBuffer from "./logBuffer.js"
import * as LogFormat from "./logFormat.js"

// A string longer than this is checked by a regular expression and encoded by Node's encoder.
const short = 96

const hex = "0123456789abcdef"

// `\uXXXX` with lower-case digits, as JSON.stringify writes it.
const unicodeEscape = (bytes: Uint8Array, at: number, code: number): number => {
  bytes[at] = 0x5c
  bytes[at + 1] = 0x75
  bytes[at + 2] = hex.charCodeAt(code >> 12)
  bytes[at + 3] = hex.charCodeAt((code >> 8) & 0xf)
  bytes[at + 4] = hex.charCodeAt((code >> 4) & 0xf)
  bytes[at + 5] = hex.charCodeAt(code & 0xf)
  return at + 6
}

// The escape of a character below 0x80 that JSON.stringify escapes: `"`, `\` and the C0 controls.
const asciiEscape = (bytes: Uint8Array, at: number, code: number): number => {
  let letter = 0
  switch (code) {
    case 0x22:
      letter = 0x22
      break
    case 0x5c:
      letter = 0x5c
      break
    case 0x08:
      letter = 0x62
      break
    case 0x0c:
      letter = 0x66
      break
    case 0x0a:
      letter = 0x6e
      break
    case 0x0d:
      letter = 0x72
      break
    case 0x09:
      letter = 0x74
      break
    default:
      return unicodeEscape(bytes, at, code)
  }
  bytes[at] = 0x5c
  bytes[at + 1] = letter
  return at + 2
}

/** The most bytes {@link writeString} writes for `text`: quotes, and 6 bytes a code unit (`\u001b`). */
export const stringBound = (text: string): number => text.length * 6 + 2

/**
 * `text` as {@link LogFormat.jsonString} gives it, in UTF-8, written at `at`; returns the offset after it.
 *
 * @internal
 */
export const writeString = (bytes: Buffer, at: number, text: string): number => {
  if (text.length > short) {
    if (LogFormat.needsEscape.test(text)) return at + bytes.write(LogFormat.jsonString(text), at)
    bytes[at] = 0x22
    at += 1 + bytes.write(text, at + 1)
    bytes[at] = 0x22
    return at + 1
  }
  bytes[at++] = 0x22
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) {
      if (code >= 0x20 && code !== 0x22 && code !== 0x5c) bytes[at++] = code
      else at = asciiEscape(bytes, at, code)
    } else if (code < 0x800) {
      bytes[at++] = 0xc0 | (code >> 6)
      bytes[at++] = 0x80 | (code & 0x3f)
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(i + 1)
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00)
        bytes[at++] = 0xf0 | (point >> 18)
        bytes[at++] = 0x80 | ((point >> 12) & 0x3f)
        bytes[at++] = 0x80 | ((point >> 6) & 0x3f)
        bytes[at++] = 0x80 | (point & 0x3f)
        i++
      } else {
        // A lone surrogate: JSON.stringify escapes it.
        at = unicodeEscape(bytes, at, code)
      }
    } else if (code === 0x2028 || code === 0x2029) {
      at = unicodeEscape(bytes, at, code)
    } else {
      bytes[at++] = 0xe0 | (code >> 12)
      bytes[at++] = 0x80 | ((code >> 6) & 0x3f)
      bytes[at++] = 0x80 | (code & 0x3f)
    }
  }
  bytes[at++] = 0x22
  return at
}

// ASCII text (numbers, names made of ASCII), byte by byte.
const writeAscii = (bytes: Uint8Array, at: number, text: string): number => {
  for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i)
  return at
}

// `{"timestamp":"…","level":"…","message":` of the last millisecond and level.
let prefixTimestamp = ""
let prefixLevel: LogLevel.LogLevel | undefined
let prefix: Uint8Array = new Uint8Array(0)

const prefixOf = (record: LogFormat.Record): Uint8Array => {
  const timestamp = LogFormat.timestamp(record.date)
  if (timestamp !== prefixTimestamp || record.logLevel !== prefixLevel) {
    prefixTimestamp = timestamp
    prefixLevel = record.logLevel
    prefix = Buffer.from(
      `{"timestamp":${LogFormat.jsonString(timestamp)},"level":"${LogFormat.levelName(record.logLevel)}","message":`
    )
  }
  return prefix
}

// A connection's fixed annotations as bytes (see `LogFormat.inOrder`), made once per connection.
const fixedBytes = new WeakMap<ReadonlyArray<FiberLog.Annotation>, Uint8Array>()

const fixedOf = (fixed: ReadonlyArray<FiberLog.Annotation>): Uint8Array => {
  let bytes = fixedBytes.get(fixed)
  if (bytes === undefined) {
    bytes = Buffer.from(LogFormat.jsonFields(fixed))
    fixedBytes.set(fixed, bytes)
  }
  return bytes
}

// `,"name":` of each annotation name a line written here can have (`LogFormat.inOrder` lets only these through;
// a line with any other goes the string way).
const keyBytes = new Map(LogFormat.preferred.map((key) => [key, Buffer.from(`,${LogFormat.jsonKey(key)}:`)]))
const keyBound = Math.max(...[...keyBytes.values()].map((bytes) => bytes.length))
const noKey = new Uint8Array(0)

// A value written here: a string, a finite number or a boolean. Anything else goes the string way.
const isPlain = (value: unknown): value is string | number | boolean =>
  typeof value === "string" || (typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean"

// The most bytes a value takes: a finite number or a boolean is at most 25 ASCII characters
// (`-0.0000012345678901234567`).
const valueBound = (value: string | number | boolean): number => typeof value === "string" ? stringBound(value) : 32

// A value that passed `isPlain`.
const writeValue = (bytes: Buffer, at: number, value: unknown): number =>
  typeof value === "string" ? writeString(bytes, at, value) : writeAscii(bytes, at, String(value))

/**
 * Pushes `record` as a json line: written as bytes when it is a connection's line in order, otherwise formatted
 * by {@link LogFormat.json} and pushed as a string.
 *
 * @internal
 */
export const push = (record: LogFormat.Record, buffer: LogBuffer.BytesBuffer): void => {
  const line = LogFormat.inOrder(record)
  if (line === undefined || !Cause.isEmpty(record.cause)) {
    buffer.push(LogFormat.json(record))
    return
  }
  const message = LogFormat.renderMessage(record.message)
  const start = prefixOf(record)
  const fixed = fixedOf(line.fixed)
  const extra = line.extra
  let bound = start.length + stringBound(message) + fixed.length + 1
  if (extra !== undefined) {
    for (const [key, value] of extra) {
      if (!isPlain(value) || !keyBytes.has(key)) {
        buffer.push(LogFormat.json(record))
        return
      }
      bound += keyBound + valueBound(value)
    }
  }
  buffer.pushWith(bound, (bytes, at) => {
    bytes.set(start, at)
    at = writeString(bytes, at + start.length, message)
    bytes.set(fixed, at)
    at += fixed.length
    if (extra !== undefined) {
      for (const [key, value] of extra) {
        const name = keyBytes.get(key) ?? noKey
        bytes.set(name, at)
        at = writeValue(bytes, at + name.length, value)
      }
    }
    bytes[at] = 0x7d
    return at + 1
  })
}
