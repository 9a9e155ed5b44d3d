/**
 * The roles bytes play in an encoding's multi-byte characters, found by encoding characters with iconv-lite:
 * which bytes are unsafe as frame delimiters, and the words that explain why. Re-exported by `Framing.ts`, where
 * the public documentation is.
 */
import Iconv from "iconv-lite";
const LF = 0x0a;
const CR = 0x0d;
const analyses = new Map();
/** Bit for "byte `index` of a `size`-byte character"; sizes above 4 share one bit. */
const roleBit = (index, size) => size > 4 ? 1 << 12 : 1 << ((size - 2) * 4 + index);
/** The characters tried: every BMP scalar value and every 256th supplementary code point. */
const sampleCharacters = () => {
    const chars = [];
    for (let code = 0; code < 0xd800; code++)
        chars.push(String.fromCharCode(code));
    for (let code = 0xe000; code <= 0xffff; code++)
        chars.push(String.fromCharCode(code));
    for (let code = 0x10000; code <= 0x10ffff; code += 0x100)
        chars.push(String.fromCodePoint(code));
    return chars;
};
/**
 * Encodes each sample character and records where each byte of a multi-byte result occurs. A result counts
 * only if it decodes back to the character: iconv-lite encodes unmappable characters as "?".
 *
 * One character at a time, this takes 100 to 200 ms for the Chinese encodings. So, when NUL encodes as the
 * single byte 0x00, all the characters are encoded at once, each followed by NUL, and decoded back at once; the
 * results are cut at the zero bytes, and the decoded text at the NULs. If the bytes hold other zeros, it is done
 * one character at a time; if the decoded text does not split into as many parts, each result is decoded alone.
 */
const analyse = (encoding) => {
    const cached = analyses.get(encoding);
    if (cached !== undefined)
        return cached;
    const roles = new Uint32Array(256);
    const encoder = Iconv.getEncoder(encoding);
    const decoder = Iconv.getDecoder(encoding);
    const encode = (text) => {
        const head = encoder.write(text);
        const rest = encoder.end();
        return rest === undefined || rest.length === 0 ? head : Buffer.concat([head, rest]);
    };
    const decode = (bytes) => {
        const head = decoder.write(bytes);
        // Not `?? ""`: iconv-lite's cesu8 decoder ends with the number 0.
        const rest = decoder.end();
        return typeof rest === "string" ? head + rest : head;
    };
    const record = (bytes, from, to) => {
        for (let i = from; i < to; i++)
            roles[bytes[i]] |= roleBit(i - from, to - from);
    };
    const chars = sampleCharacters();
    const atOnce = () => {
        const nul = encode("\0");
        if (nul.length !== 1 || nul[0] !== 0)
            return false;
        const sample = chars.slice(1);
        const bytes = encode(sample.join("\0") + "\0");
        const ends = new Int32Array(sample.length);
        let pos = 0;
        for (let i = 0; i < sample.length; i++) {
            const end = bytes.indexOf(0, pos);
            if (end < 0)
                return false;
            ends[i] = end;
            pos = end + 1;
        }
        if (pos !== bytes.length)
            return false;
        const decoded = decode(bytes).split("\0");
        const aligned = decoded.length === sample.length + 1;
        let start = 0;
        sample.forEach((char, i) => {
            const end = ends[i];
            if (end - start > 1) {
                const back = aligned ? decoded[i] : decode(bytes.subarray(start, end));
                if (back === char)
                    record(bytes, start, end);
            }
            start = end + 1;
        });
        return true;
    };
    if (!atOnce()) {
        for (const char of chars) {
            const bytes = encode(char);
            if (bytes.length > 1 && decode(bytes) === char)
                record(bytes, 0, bytes.length);
        }
    }
    const unsafe = new Set();
    roles.forEach((bits, byte) => {
        if (bits !== 0)
            unsafe.add(byte);
    });
    const analysis = { unsafe, roles };
    analyses.set(encoding, analysis);
    return analysis;
};
/** @internal */
export const unsafeBytes = (encoding) => analyse(encoding).unsafe;
const hex = (byte) => "0x" + byte.toString(16).toUpperCase().padStart(2, "0");
const ordinals = ["first", "second", "third", "fourth"];
const sizes = ["two-byte", "three-byte", "four-byte"];
const describeRoles = (bits) => {
    const parts = [];
    for (let size = 2; size <= 4; size++) {
        const indexes = ordinals.filter((_, index) => index < size && (bits & roleBit(index, size)) !== 0);
        if (indexes.length > 0) {
            parts.push(`the ${list(indexes, "or")} byte of a ${sizes[size - 2]}`);
        }
    }
    if ((bits & roleBit(0, 5)) !== 0)
        parts.push("a byte of a longer");
    return parts.length === 0 ? "part of a multi-byte" : list(parts, "or");
};
/** "a", "a or b", "a, b or c"; with more than two items of several words, "a, b, or c". */
const list = (items, conjunction) => {
    if (items.length <= 2)
        return items.join(` ${conjunction} `);
    const comma = items.some((item) => item.includes(" ")) ? "," : "";
    return `${items.slice(0, -1).join(", ")}${comma} ${conjunction} ${items[items.length - 1]}`;
};
const complement = (set) => {
    const out = [];
    for (let byte = 0; byte < 256; byte++)
        if (!set.has(byte))
            out.push(byte);
    return out;
};
/** @internal */
export const formatRanges = (set) => {
    const sorted = [...set].sort((a, b) => a - b);
    const ranges = [];
    let i = 0;
    while (i < sorted.length) {
        const first = sorted[i] ?? 0;
        let last = first;
        while (i + 1 < sorted.length && sorted[i + 1] === last + 1) {
            i++;
            last = sorted[i] ?? last;
        }
        ranges.push(first === last ? hex(first) : `${hex(first)}–${hex(last)}`);
        i++;
    }
    return ranges.length === 0 ? "none" : ranges.join(", ");
};
/**
 * Why `bytes` are unsafe with `encoding` (bytes with the same roles described together, e.g. "byte 0x0A (LF)
 * can occur as the second byte of a two-byte gb18030 character"), and what to do instead. Works, in less
 * detail, for an encoding iconv-lite does not know.
 *
 * @internal
 */
export const explainUnsafe = (encoding, bytes) => {
    const analysis = Iconv.encodingExists(encoding) ? analyse(encoding) : undefined;
    const byRoles = new Map();
    for (const byte of [...bytes].sort((a, b) => a - b)) {
        const where = analysis === undefined ? "part of a multi-byte" : describeRoles(analysis.roles[byte]);
        const name = byte === LF ? " (LF)" : byte === CR ? " (CR)" : "";
        byRoles.set(where, [...(byRoles.get(where) ?? []), hex(byte) + name]);
    }
    const roles = [...byRoles].map(([where, bytes]) => `${bytes.length === 1 ? "byte" : "bytes"} ${list(bytes, "and")} can occur as ${where} ${encoding} character`).join("; ");
    const safe = analysis === undefined ? [] : complement(analysis.unsafe);
    const advice = safe.length === 0
        ? `no byte is safe as a delimiter with ${encoding}: use --framing length`
        : `choose a delimiter made of bytes in ${formatRanges(new Set(safe))}, or use --framing length`;
    return { roles, advice };
};
/** @internal */
export const safeDelimiterTable = (encodings) => encodings.map((encoding) => {
    const unsafe = unsafeBytes(encoding);
    const lfSafe = !unsafe.has(LF) && !unsafe.has(CR);
    return { encoding, unsafe: formatRanges(unsafe), lfSafe, etxSafe: !unsafe.has(0x03), crlfSafe: lfSafe };
});
