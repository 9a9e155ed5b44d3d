import * as Accumulator from "./accumulator.js";
import * as Event from "./event.js";
/**
 * `Line` and `Delimiter` modes. The bytes of the current frame seen so far are `seen`; in state `Frame` they
 * are held in `held`; in state `Discard` (an oversized frame under "skip") only their last bytes are kept, in
 * `tail`, to find a delimiter split across chunks.
 *
 * A frame is known to be oversized once `seen - overlap > max`, where `overlap` is the length of the longest
 * end of the frame that could be the start of the delimiter (for lines: 1 if it ends with CR). Hence the
 * decoder holds at most `max + delimiter length - 1` bytes, and under "close" reports the same `length`
 * however the input is split.
 *
 * The fed chunk is `input`, read from `pos`; each `next()` looks for one delimiter in it and reports the frame it
 * ends, so a chunk of many frames costs one event at a time. `input` is dropped as soon as it is consumed.
 *
 * @internal
 */
class DelimiterDecoder extends Event.PullDecoder {
    delimiter;
    lines;
    max;
    close;
    state = "Frame";
    held;
    seen = 0;
    tail = Event.empty;
    /** Bytes kept in `tail`. */
    keep;
    /** End, in the current chunk, of the delimiter found by `find`. */
    matchEnd = 0;
    input = undefined;
    pos = 0;
    finished = false;
    constructor(delimiter, lines, max, close) {
        super();
        this.delimiter = delimiter;
        this.lines = lines;
        this.max = max;
        this.close = close;
        this.keep = lines ? 1 : Math.max(0, delimiter.length - 1);
        this.held = new Accumulator.Accumulator(max + this.keep);
    }
    get buffered() {
        // While a frame is held, the tail is a copy of its last bytes.
        return Math.max(this.held.length, this.tail.length);
    }
    feed = (chunk) => {
        if (this.state === "Done" || this.finished)
            return;
        if (this.input !== undefined)
            throw Event.unconsumed();
        if (chunk.length === 0)
            return;
        this.input = Event.asBuffer(chunk);
        this.pos = 0;
    };
    finish = () => {
        this.finished = true;
    };
    next = () => {
        // Invariant: `input` is undefined, or holds unread bytes from `pos` and the state is not `Done`.
        const input = this.input;
        if (input !== undefined) {
            const pos = this.pos;
            const start = this.find(input, pos);
            if (start >= 0) {
                const event = this.complete(input, pos, start);
                this.pos = this.matchEnd;
                if (this.pos >= input.length || this.state === "Done")
                    this.input = undefined;
                return event;
            }
            this.input = undefined;
            const event = this.absorb(input, pos);
            if (event !== undefined)
                return event;
        }
        return this.finished ? this.flush() : undefined;
    };
    /** At the end of input: reports an unterminated last frame, once. */
    flush() {
        const state = this.state;
        if (state === "Done")
            return undefined;
        const seen = this.seen;
        const bytes = this.held.take(this.held.length);
        this.state = "Done";
        this.tail = Event.empty;
        if (state === "Discard")
            return Event.oversizedEvent(seen, this.max, false, Event.empty);
        if (seen === 0)
            return undefined;
        // A trailing CR or partial delimiter is data.
        return seen > this.max
            ? Event.oversizedEvent(seen, this.max, false, Event.empty)
            : Event.frameEvent(bytes, Event.empty);
    }
    /**
     * The position in the current frame of the next delimiter that ends in `chunk` at or after `pos`, or -1.
     * Sets `matchEnd`.
     */
    find(chunk, pos) {
        const seen = this.seen;
        if (this.lines) {
            const index = chunk.indexOf(Event.LF, pos);
            if (index < 0)
                return -1;
            this.matchEnd = index + 1;
            return seen + index - pos;
        }
        const delimiter = this.delimiter;
        const size = delimiter.length;
        if (size === 0)
            return -1;
        const tail = this.tail;
        // A delimiter starting in the tail of the frame (earliest start first) and ending in this chunk.
        for (let i = 0; i < tail.length; i++) {
            const inTail = tail.length - i;
            const inChunk = size - inTail;
            if (inChunk > chunk.length - pos)
                break;
            if (startsWith(tail, i, delimiter, 0, inTail) && startsWith(chunk, pos, delimiter, inTail, inChunk)) {
                this.matchEnd = pos + inChunk;
                return seen - inTail;
            }
        }
        const index = chunk.indexOf(delimiter, pos);
        if (index < 0)
            return -1;
        this.matchEnd = index + size;
        return seen + index - pos;
    }
    /** The current frame ends where a delimiter starts, at `start`. */
    complete(chunk, pos, start) {
        let size = start;
        let ending = this.delimiter;
        if (this.lines) {
            ending = Event.lf;
            if (start > 0 && this.byteAt(chunk, pos, start - 1) === Event.CR) {
                size = start - 1;
                ending = Event.crlf;
            }
        }
        let event;
        if (this.state === "Discard") {
            event = Event.oversizedEvent(size, this.max, true, ending);
        }
        else if (size <= this.max) {
            const bytes = this.seen === 0 ? chunk.subarray(pos, pos + size) : this.held.take(size, chunk.subarray(pos));
            event = Event.frameEvent(bytes, ending);
        }
        else if (this.close) {
            return this.stop(chunk, pos);
        }
        else {
            event = Event.oversizedEvent(size, this.max, true, ending);
        }
        this.state = "Frame";
        this.held.clear();
        this.seen = 0;
        this.tail = Event.empty;
        return event;
    }
    /** No delimiter ends in the rest of `chunk`: it all belongs to the current frame. */
    absorb(chunk, pos) {
        const rest = chunk.length - pos;
        const seen = this.seen + rest;
        const tail = lastBytes(this.tail, chunk.subarray(pos), this.keep);
        if (this.state === "Frame" && seen - this.overlap(tail) > this.max) {
            if (this.close)
                return this.stop(chunk, pos);
            this.state = "Discard";
            this.held.clear();
        }
        else if (this.state === "Frame") {
            this.held.append(chunk.subarray(pos));
        }
        this.seen = seen;
        this.tail = tail;
        return undefined;
    }
    /** Under "close": reports the frame at the first byte that makes it oversized, and stops. */
    stop(chunk, pos) {
        const available = this.seen + chunk.length - pos;
        let at = Math.max(this.seen, this.max) + 1;
        while (at < available) {
            const window = new Uint8Array(Math.min(this.keep, at));
            for (let i = 0; i < window.length; i++)
                window[i] = this.byteAt(chunk, pos, at - window.length + i);
            if (at - this.overlap(window) > this.max)
                break;
            at++;
        }
        this.state = "Done";
        this.held.clear();
        this.tail = Event.empty;
        return Event.oversizedEvent(at, this.max, false, Event.empty);
    }
    /** Byte `index` of the current frame, which must be in the tail or in `chunk` from `pos`. */
    byteAt(chunk, pos, index) {
        return index >= this.seen
            ? chunk[pos + index - this.seen] ?? 0
            : this.tail[index - this.seen + this.tail.length] ?? 0;
    }
    /** The length of the longest end of `bytes` that could be the start of a delimiter. */
    overlap(bytes) {
        if (this.lines)
            return bytes.length > 0 && bytes[bytes.length - 1] === Event.CR ? 1 : 0;
        for (let size = Math.min(this.keep, bytes.length); size > 0; size--) {
            if (startsWith(bytes, bytes.length - size, this.delimiter, 0, size))
                return size;
        }
        return 0;
    }
}
/**
 * A decoder for `Line` (`lines`, with `delimiter` LF) or `Delimiter` mode.
 *
 * @internal
 */
export const make = (delimiter, lines, max, close) => new DelimiterDecoder(delimiter, lines, max, close);
/** Whether `bytes[at, at + size)` equals `pattern[from, from + size)`. */
const startsWith = (bytes, at, pattern, from, size) => {
    for (let i = 0; i < size; i++) {
        if (bytes[at + i] !== pattern[from + i])
            return false;
    }
    return true;
};
/** A copy of the last `keep` bytes of `before` followed by `rest`. */
const lastBytes = (before, rest, keep) => {
    if (keep === 0)
        return Event.empty;
    if (rest.length >= keep)
        return new Uint8Array(rest.subarray(rest.length - keep));
    const fromBefore = Math.min(keep - rest.length, before.length);
    const out = new Uint8Array(fromBefore + rest.length);
    out.set(before.subarray(before.length - fromBefore));
    out.set(rest, fromBefore);
    return out;
};
