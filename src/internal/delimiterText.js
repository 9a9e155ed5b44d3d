/**
 * Delimiters written as text, as the CLI takes them (`--delimiter "\x03"`): reading them, and writing them back
 * for messages. Re-exported by `Framing.ts`, where the public documentation is.
 */
import * as Data from "effect/Data";
import * as Effect from "effect/Effect";
/** @internal */
export class DelimiterError extends Data.TaggedError("DelimiterError") {
    get message() {
        const escapes = "use \\n, \\r, \\t, \\0, \\\\ or \\xHH (two hex digits)";
        switch (this.reason) {
            case "Empty":
                return "the delimiter is empty: give at least one byte, for example \\x03 or \\r\\n";
            case "NonAscii": {
                const char = String.fromCodePoint(this.text.codePointAt(this.index) ?? 0);
                return `delimiter "${this.text}": "${char}" at position ${this.index} is not ASCII, and its bytes would ` +
                    `depend on the encoding; write the bytes you mean as \\xHH escapes`;
            }
            case "BadEscape":
                return `delimiter "${this.text}": invalid escape "${this.text.slice(this.index, this.index + 4)}" at ` +
                    `position ${this.index}; ${escapes}`;
        }
    }
}
const simpleEscapes = new Map([["n", 0x0a], ["r", 0x0d], ["t", 0x09], ["0", 0x00], ["\\", 0x5c]]);
/** @internal */
export const parseDelimiter = (text) => Effect.suspend(() => {
    if (text.length === 0)
        return Effect.fail(new DelimiterError({ text, reason: "Empty", index: 0 }));
    const bytes = [];
    let i = 0;
    while (i < text.length) {
        const code = text.charCodeAt(i);
        if (code > 0x7f)
            return Effect.fail(new DelimiterError({ text, reason: "NonAscii", index: i }));
        if (code !== 0x5c) {
            bytes.push(code);
            i++;
            continue;
        }
        const escape = text.charAt(i + 1);
        const simple = simpleEscapes.get(escape);
        if (simple !== undefined) {
            bytes.push(simple);
            i += 2;
        }
        else if (escape === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
            bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
            i += 4;
        }
        else {
            return Effect.fail(new DelimiterError({ text, reason: "BadEscape", index: i }));
        }
    }
    return Effect.succeed(Uint8Array.from(bytes));
});
/**
 * The delimiter as it would be written for {@link parseDelimiter}.
 *
 * @internal
 */
export const showDelimiter = (bytes) => Array.from(bytes, (byte) => {
    switch (byte) {
        case 0x0a:
            return "\\n";
        case 0x0d:
            return "\\r";
        case 0x09:
            return "\\t";
        case 0x00:
            return "\\0";
        case 0x5c:
            return "\\\\";
        case 0x22:
            return "\\x22";
        default:
            return byte >= 0x20 && byte < 0x7f
                ? String.fromCharCode(byte)
                : "\\x" + byte.toString(16).toUpperCase().padStart(2, "0");
    }
}).join("");
