/**
 * Text encodings, backed by iconv-lite: validating an encoding name, encoding text, finding the characters an
 * encoding cannot represent, and decoding a byte stream whose multi-byte characters may be split across reads,
 * counting the invalid byte sequences replaced by U+FFFD.
 *
 * Decoding goes through one of four paths, chosen once per encoding:
 * - multi-byte CJK encodings (gbk, gb18030, big5, shift_jis, euc-kr, …): our own streaming decoder over
 *   iconv-lite's decoding tables (`internal/dbcsDecoder.ts`), because iconv-lite 0.7.3's drops characters at read
 *   boundaries and decodes invalid gb18030 four-byte sequences as characters. The same tables keep decoding
 *   identical to iconv-lite's, and to `encode`. Node's `TextDecoder` is not used for these: its tables are the
 *   WHATWG ones, which differ from iconv-lite's (WHATWG "gbk" is gb18030; big5, shift_jis and euc-kr differ in
 *   a few codes), so a client's text would decode differently from how its replies are encoded.
 * - utf8: iconv-lite (Node's native decoder); invalid sequences are the U+FFFD it writes minus those encoded as
 *   EF BF BD in the input.
 * - utf16le: Node's `TextDecoder("utf-16le")`, which, unlike iconv-lite, replaces unpaired surrogates and a
 *   trailing odd byte with U+FFFD (iconv-lite passes the former through and drops the latter); the count
 *   subtracts the U+FFFD encoded in the input (FD FF at an even offset).
 * - single-byte encodings and the rest (latin1, cp1252, koi8-r, utf16 with a BOM, utf32, utf7, …): iconv-lite;
 *   every U+FFFD in the output counts as invalid (single-byte encodings cannot encode U+FFFD; for utf16, utf32
 *   and utf7 an encoded U+FFFD in the input is counted too).
 *
 * Cost, measured by hand on the (shared, noisy) development machine, median of 5 runs: `write` of a 5-byte GBK
 * message 0.13–0.33 µs (iconv-lite's own decoder: 3.5–5 µs, most of it in allocating its output and copying the
 * bytes it carries over); `decodeCounting` of it 0.16–0.6 µs (`Iconv.decode`: 4–6 µs); a 48 KB GBK read as fast
 * as iconv-lite (0.5–0.9 ms); utf8 `write` of 5 bytes 0.2 µs (iconv-lite alone 0.12 µs: the count's bookkeeping).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data";
import * as Effect from "effect/Effect";
import Iconv from "iconv-lite";
import * as DbcsDecoder from "./internal/dbcsDecoder.js";
/**
 * The encoding name is not one iconv-lite knows.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownEncodingError extends Data.TaggedError("UnknownEncodingError") {
    get message() {
        return `unknown encoding "${this.encoding}": run "effect-tcp-server encodings" to list the supported ones`;
    }
}
/**
 * Checks that `encoding` is supported, returning its name unchanged.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (encoding) => Iconv.encodingExists(encoding) ? Effect.succeed(encoding) : Effect.fail(new UnknownEncodingError({ encoding }));
/**
 * Encodes text. The encoding must have been validated with {@link validate}. Characters the encoding cannot
 * represent are encoded as "?" (see {@link unencodable}).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (text, encoding) => Iconv.encode(text, encoding);
/**
 * The distinct characters of `text` that `encoding` cannot represent (iconv-lite silently encodes them as "?"),
 * in order of first appearance; empty when all can be encoded. A character can be represented when it decodes
 * back to itself; an unpaired surrogate never can. The encoding must have been validated with {@link validate}.
 *
 * @since 0.1.0
 * @category encoding
 */
export const unencodable = (text, encoding) => {
    const roundTrips = (chars) => {
        const bytes = Iconv.encode(chars, encoding);
        // utf16 and utf32 write a byte order mark that decoding drops; a leading U+FEFF in utf8 is text.
        return Iconv.decode(bytes, encoding) === chars || Iconv.decode(bytes, encoding, { stripBOM: false }) === chars;
    };
    if (roundTrips(text))
        return [];
    const seen = new Set();
    const found = [];
    for (const char of text) {
        if (seen.has(char))
            continue;
        seen.add(char);
        if (!roundTrips(char))
            found.push(char);
    }
    return found;
};
const asBuffer = (bytes) => Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const countReplacements = (text) => {
    let count = 0;
    for (let i = text.indexOf("\uFFFD"); i !== -1; i = text.indexOf("\uFFFD", i + 1))
        count++;
    return count;
};
const fromStream = (stream) => ({
    stream,
    once: (bytes) => {
        const decoder = stream();
        const text = decoder.write(bytes);
        const rest = decoder.end();
        return { text: rest.length > 0 ? text + rest : text, invalid: decoder.invalid };
    }
});
// iconv-lite's decoder, counting U+FFFD in its output less those encoded in the input. (A class: an object
// literal with a getter costs about a microsecond to create, measured, and `decodeCounting` makes one per message.)
class IconvDecoder {
    encoded;
    inner;
    count = 0;
    constructor(encoding, encoded) {
        this.encoded = encoded;
        this.inner = Iconv.getDecoder(encoding);
    }
    get invalid() {
        return this.count;
    }
    write = (bytes) => {
        const text = this.inner.write(asBuffer(bytes));
        const replaced = text.includes("\uFFFD");
        const inInput = this.encoded(bytes, replaced);
        if (replaced)
            this.count += countReplacements(text) - inInput;
        return text;
    };
    end = () => {
        // Most decoders return a string or undefined; iconv-lite's cesu8 returns 0.
        const rest = this.inner.end();
        if (typeof rest !== "string")
            return "";
        this.count += countReplacements(rest);
        return rest;
    };
}
const noneEncoded = () => 0;
// EF BF BD, the UTF-8 of U+FFFD, always decodes to U+FFFD (EF cannot continue a sequence), in the `write` that
// completes it. The last two bytes of the previous write are kept for one split across writes.
const utf8Encoded = () => {
    let before1 = -1;
    let before2 = -1;
    return (bytes, count) => {
        let found = 0;
        const n = bytes.length;
        if (count) {
            for (let i = 0; i < n; i++) {
                if (bytes[i] !== 0xBD)
                    continue;
                const b1 = i >= 1 ? bytes[i - 1] : before1;
                const b2 = i >= 2 ? bytes[i - 2] : i === 1 ? before1 : before2;
                if (b1 === 0xBF && b2 === 0xEF)
                    found++;
            }
        }
        if (n >= 2) {
            before2 = bytes[n - 2];
            before1 = bytes[n - 1];
        }
        else if (n === 1) {
            before2 = before1;
            before1 = bytes[0];
        }
        return found;
    };
};
// The code units FD FF (an encoded U+FFFD) in `bytes`, `odd` being the byte before them when the stream so far
// has an odd length, else -1.
const utf16leEncoded = (bytes, odd) => {
    let encoded = odd === 0xFD && bytes[0] === 0xFF ? 1 : 0;
    for (let i = odd === -1 ? 0 : 1; i + 1 < bytes.length; i += 2) {
        if (bytes[i] === 0xFD && bytes[i + 1] === 0xFF)
            encoded++;
    }
    return encoded;
};
// Node's TextDecoder, counting U+FFFD in its output less the code units FD FF (an encoded U+FFFD) at even
// offsets of the stream.
class Utf16leDecoder {
    inner = new TextDecoder("utf-16le");
    odd = -1; // the last byte, when the stream's length so far is odd
    count = 0;
    get invalid() {
        return this.count;
    }
    write = (bytes) => {
        const text = this.inner.decode(bytes, { stream: true });
        const n = bytes.length;
        if (n === 0)
            return text;
        const odd = this.odd;
        if (text.includes("\uFFFD"))
            this.count += countReplacements(text) - utf16leEncoded(bytes, odd);
        this.odd = ((odd === -1 ? 0 : 1) + n) % 2 === 1 ? bytes[n - 1] : -1;
        return text;
    };
    end = () => {
        const rest = this.inner.decode();
        this.count += countReplacements(rest);
        this.odd = -1;
        return rest;
    };
}
const makeCodec = (encoding) => {
    const dbcs = DbcsDecoder.tables(encoding);
    if (dbcs !== undefined)
        return fromStream(() => new DbcsDecoder.DbcsDecoder(dbcs));
    const codec = Iconv.getCodec(encoding);
    if (codec === Iconv.getCodec("utf8")) {
        return {
            stream: () => new IconvDecoder(encoding, utf8Encoded()),
            // Node's native decoder, as iconv-lite's, without creating one per message; the BOM dropped as iconv-lite does.
            once: (bytes) => {
                const decoded = asBuffer(bytes).toString("utf8");
                const text = decoded.charCodeAt(0) === 0xFEFF ? decoded.slice(1) : decoded;
                return { text, invalid: text.includes("\uFFFD") ? countReplacements(text) - utf8Encoded()(bytes, true) : 0 };
            }
        };
    }
    if (codec === Iconv.getCodec("utf16le")) {
        // One decoder for every message: a TextDecoder costs microseconds to create, and `decode` without
        // `stream` starts afresh (BOM included).
        const whole = new TextDecoder("utf-16le");
        return {
            stream: () => new Utf16leDecoder(),
            once: (bytes) => {
                const text = whole.decode(bytes);
                return { text, invalid: text.includes("\uFFFD") ? countReplacements(text) - utf16leEncoded(bytes, -1) : 0 };
            }
        };
    }
    return fromStream(() => new IconvDecoder(encoding, noneEncoded));
};
const codecs = new Map();
const codecFor = (encoding) => {
    let codec = codecs.get(encoding);
    if (codec === undefined) {
        codec = makeCodec(encoding);
        codecs.set(encoding, codec);
    }
    return codec;
};
/**
 * A new streaming decoder. The encoding must have been validated with {@link validate}.
 *
 * Invalid bytes become U+FFFD, as iconv-lite replaces them: in the multi-byte CJK encodings, the first byte of an
 * invalid sequence becomes one U+FFFD and decoding resumes at the next byte (a stray lead byte followed by "A"
 * gives "\uFFFDA"), except that a gb18030 four-byte sequence outside the assigned ranges is one U+FFFD; in
 * utf8 and utf16le, as the WHATWG Encoding Standard replaces them.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decoder = (encoding) => codecFor(encoding).stream();
/**
 * Decodes one complete message; `invalid` counts the sequences replaced by U+FFFD (a genuine U+FFFD in the input
 * is not counted), an incomplete character at the end included. The encoding must have been validated with
 * {@link validate}.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeCounting = (bytes, encoding) => codecFor(encoding).once(bytes);
/**
 * Decodes one complete message. Invalid bytes become U+FFFD (see {@link decoder}).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes, encoding) => codecFor(encoding).once(bytes).text;
const notTextEncodings = new Set(["base64", "hex", "binary"]);
/**
 * The names of every supported encoding and alias, sorted.
 *
 * @since 0.1.0
 * @category encoding
 */
export const supported = () => {
    // iconv-lite fills its table of encodings lazily, on the first lookup.
    Iconv.getCodec("utf8");
    return Object.keys(Iconv.encodings ?? {})
        .filter((name) => !name.startsWith("_") && !notTextEncodings.has(name))
        .sort();
};
/**
 * A text the server sends (a reply, the goodbye or busy text) has characters its encoding cannot represent.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnencodableTextError extends Data.TaggedError("UnencodableTextError") {
    get message() {
        const chars = this.characters.slice(0, 10).map((char) => `"${char}"`).join(", ");
        const more = this.characters.length > 10 ? ` and ${this.characters.length - 10} more` : "";
        return `the ${this.what} "${this.text}" cannot be sent in ${this.encoding}: ${chars}${more} ` +
            `${this.characters.length === 1 ? "has" : "have"} no ${this.encoding} encoding; ` +
            `set a text ${this.encoding} can represent, or another encoding`;
    }
}
/**
 * Encodes a text the server sends, failing if the encoding cannot represent all of it.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeAll = (text, encoding, what) => {
    const characters = unencodable(text, encoding);
    return characters.length === 0
        ? Effect.succeed(encode(text, encoding))
        : Effect.fail(new UnencodableTextError({ what, text, encoding, characters }));
};
