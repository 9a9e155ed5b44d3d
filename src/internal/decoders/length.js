import * as Accumulator from "./accumulator.js";
import * as Event from "./event.js";
/**
 * `Length` mode: a big-endian prefix of `lengthBytes` bytes, then that many bytes of payload. A payload that
 * arrives whole in one chunk is handed back without copy; one split across chunks is copied into `held`, which
 * never exceeds `max`; an oversized payload is counted and skipped (`"skip"`), or ends the decoding (`"close"`).
 *
 * The fed chunk is `input`, read from `pos`; each `next()` reads it up to the end of one frame, so a chunk of many
 * frames costs one event at a time. `input` is dropped as soon as it is consumed.
 *
 * @internal
 */
class LengthDecoder extends Event.PullDecoder {
    lengthBytes;
    max;
    close;
    state = "Prefix";
    prefix;
    got = 0;
    /** Payload length announced by the last prefix. */
    expected = 0;
    held;
    /** Payload bytes received (state Payload) or discarded (state Skip). */
    seen = 0;
    input = undefined;
    pos = 0;
    finished = false;
    constructor(lengthBytes, max, close) {
        super();
        this.lengthBytes = lengthBytes;
        this.max = max;
        this.close = close;
        this.prefix = new Uint8Array(lengthBytes);
        this.held = new Accumulator.Accumulator(max);
    }
    get buffered() {
        return this.got + this.held.length;
    }
    feed = (chunk) => {
        if (this.state === "Done" || this.finished)
            return;
        if (this.input !== undefined)
            throw Event.unconsumed();
        if (chunk.length === 0)
            return;
        this.input = chunk;
        this.pos = 0;
    };
    finish = () => {
        this.finished = true;
    };
    next = () => {
        const input = this.input;
        if (input !== undefined) {
            const event = this.read(input);
            if (this.pos >= input.length || this.state === "Done")
                this.input = undefined;
            if (event !== undefined)
                return event;
        }
        return this.finished ? this.flush() : undefined;
    };
    /** Reads `chunk` from `pos` up to the end of the next frame (or of the chunk), and reports that frame. */
    read(chunk) {
        let pos = this.pos;
        while (pos < chunk.length) {
            const available = chunk.length - pos;
            if (this.state === "Prefix") {
                const take = Math.min(this.lengthBytes - this.got, available);
                this.prefix.set(chunk.subarray(pos, pos + take), this.got);
                this.got += take;
                pos += take;
                if (this.got < this.lengthBytes)
                    break;
                this.got = 0;
                this.seen = 0;
                this.expected = readLength(this.prefix);
                if (this.expected > this.max) {
                    this.pos = pos;
                    this.state = this.close ? "Done" : "Skip";
                    return Event.oversizedEvent(this.expected, this.max, true, Event.empty);
                }
                else if (this.expected === 0) {
                    this.pos = pos;
                    return Event.frameEvent(Event.empty, Event.empty);
                }
                else {
                    this.state = "Payload";
                }
            }
            else if (this.state === "Payload") {
                const take = Math.min(this.expected - this.seen, available);
                const part = chunk.subarray(pos, pos + take);
                pos += take;
                if (take === this.expected) {
                    this.pos = pos;
                    this.state = "Prefix";
                    return Event.frameEvent(part, Event.empty);
                }
                this.held.append(part);
                this.seen += take;
                if (this.seen === this.expected) {
                    this.pos = pos;
                    this.state = "Prefix";
                    return Event.frameEvent(this.held.take(this.expected), Event.empty);
                }
            }
            else {
                const take = Math.min(this.expected - this.seen, available);
                this.seen += take;
                pos += take;
                if (this.seen === this.expected)
                    this.state = "Prefix";
            }
        }
        this.pos = pos;
        return undefined;
    }
    /** At the end of input: reports a frame cut short, once. */
    flush() {
        const state = this.state;
        const got = this.got;
        this.state = "Done";
        this.got = 0;
        this.held.clear();
        switch (state) {
            case "Prefix":
                return got === 0 ? undefined : Event.incompleteEvent(got, this.lengthBytes);
            case "Payload":
            case "Skip":
                return Event.incompleteEvent(this.lengthBytes + this.seen, this.lengthBytes + this.expected);
            case "Done":
                return undefined;
        }
    }
}
/**
 * A decoder for `Length` mode.
 *
 * @internal
 */
export const make = (lengthBytes, max, close) => new LengthDecoder(lengthBytes, max, close);
const readLength = (prefix) => {
    let value = 0;
    for (const byte of prefix)
        value = value * 256 + byte;
    return value;
};
