/**
 * Text encodings, backed by iconv-lite: validating an encoding name, encoding text and decoding a byte
 * stream whose multi-byte characters may be split across reads.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import Iconv from "iconv-lite"

/**
 * The encoding name is not one iconv-lite knows.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownEncodingError extends Data.TaggedError("UnknownEncodingError")<{
  readonly encoding: string
}> {
  override get message(): string {
    return `unknown encoding "${this.encoding}": run "effect-tcp-server encodings" to list the supported ones`
  }
}

/**
 * A stateful decoder for one byte stream: bytes of a character split across two `write`s are kept until the
 * character is complete. Bytes that are not valid in the encoding decode to U+FFFD.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoder {
  readonly write: (bytes: Uint8Array) => string
  /** Flushes what is left; an incomplete character at the end becomes U+FFFD. */
  readonly end: () => string
}

/**
 * Checks that `encoding` is supported, returning its name unchanged.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (encoding: string): Effect.Effect<string, UnknownEncodingError> =>
  Iconv.encodingExists(encoding) ? Effect.succeed(encoding) : Effect.fail(new UnknownEncodingError({ encoding }))

/**
 * Encodes text. The encoding must have been validated with {@link validate}.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (text: string, encoding: string): Uint8Array => Iconv.encode(text, encoding)

/**
 * A new streaming decoder. The encoding must have been validated with {@link validate}.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decoder = (encoding: string): Decoder => {
  const inner = Iconv.getDecoder(encoding)
  return {
    write: (bytes) =>
      inner.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
    end: () => {
      // Most decoders return a string or undefined; iconv-lite's cesu8 returns 0.
      const rest: unknown = inner.end()
      return typeof rest === "string" ? rest : ""
    }
  }
}

/**
 * Decodes one complete message. Invalid bytes become U+FFFD.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array, encoding: string): string => Iconv.decode(bytes, encoding)

// Per encoding: the bytes of U+FFFD, or null when the encoding cannot represent it.
const replacementCache = new Map<string, Buffer | null>()

const replacementBytes = (encoding: string): Buffer | null => {
  let replacement = replacementCache.get(encoding)
  if (replacement === undefined) {
    const encoded = Iconv.encode("\uFFFD", encoding)
    replacement = Iconv.decode(encoded, encoding) === "\uFFFD" ? encoded : null
    replacementCache.set(encoding, replacement)
  }
  return replacement
}

/**
 * Whether `text`, decoded from `bytes`, has U+FFFD that stands for invalid bytes rather than for an encoded
 * U+FFFD. Cheap when the text has no U+FFFD.
 *
 * @since 0.1.0
 * @category decoding
 */
export const hasInvalidBytes = (text: string, bytes: Uint8Array, encoding: string): boolean => {
  if (!text.includes("\uFFFD")) return false
  const replacement = replacementBytes(encoding)
  return replacement === null || !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(replacement)
}

const notTextEncodings = new Set(["base64", "hex", "binary"])

/**
 * The names of every supported encoding and alias, sorted.
 *
 * @since 0.1.0
 * @category encoding
 */
export const supported = (): ReadonlyArray<string> => {
  // iconv-lite fills its table of encodings lazily, on the first lookup.
  Iconv.getCodec("utf8")
  return Object.keys(Iconv.encodings ?? {})
    .filter((name) => !name.startsWith("_") && !notTextEncodings.has(name))
    .sort()
}

/**
 * The distinct characters of `text` that `encoding` cannot represent (iconv-lite would send them as `?`), in
 * order of first appearance; empty when every character can be encoded. The encoding must have been validated.
 *
 * @since 0.1.0
 * @category encoding
 */
export const unencodable = (text: string, encoding: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  for (const char of new Set(text)) {
    if (Iconv.decode(Iconv.encode(char, encoding), encoding) !== char) found.push(char)
  }
  return found
}

/**
 * A text the server sends (a reply, the goodbye or busy text) has characters its encoding cannot represent.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnencodableTextError extends Data.TaggedError("UnencodableTextError")<{
  /** What the text is, as the user set it: e.g. `--reply`, `goodbye`. */
  readonly what: string
  readonly text: string
  readonly encoding: string
  readonly characters: ReadonlyArray<string>
}> {
  override get message(): string {
    const chars = this.characters.slice(0, 10).map((char) => `"${char}"`).join(", ")
    const more = this.characters.length > 10 ? ` and ${this.characters.length - 10} more` : ""
    return `the ${this.what} "${this.text}" cannot be sent in ${this.encoding}: ${chars}${more} ` +
      `${this.characters.length === 1 ? "has" : "have"} no ${this.encoding} encoding; ` +
      `set a text ${this.encoding} can represent, or another encoding`
  }
}

/**
 * Encodes a text the server sends, failing if the encoding cannot represent all of it.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeAll = (
  text: string,
  encoding: string,
  what: string
): Effect.Effect<Uint8Array, UnencodableTextError> => {
  const characters = unencodable(text, encoding)
  return characters.length === 0
    ? Effect.succeed(encode(text, encoding))
    : Effect.fail(new UnencodableTextError({ what, text, encoding, characters }))
}
