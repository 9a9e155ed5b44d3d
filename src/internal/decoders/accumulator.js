import * as Event from "./event.js";
/**
 * The bytes of a partial frame, copied (callers may reuse their buffers) into one buffer that grows by
 * doubling, up to `limit`: appending is amortised O(1) per byte, and many small reads do not cost one object
 * each.
 *
 * @internal
 */
export class Accumulator {
    limit;
    buffer = Event.empty;
    length = 0;
    constructor(limit) {
        this.limit = limit;
    }
    append(bytes) {
        const needed = this.length + bytes.length;
        if (needed > this.buffer.length) {
            const doubled = Math.max(256, 2 * this.buffer.length);
            const grown = new Uint8Array(Math.max(needed, doubled > this.limit ? this.limit : doubled));
            grown.set(this.buffer.subarray(0, this.length));
            this.buffer = grown;
        }
        this.buffer.set(bytes, this.length);
        this.length = needed;
    }
    /** The first `size` bytes, completed from `rest` if needed, handed over without copy; then empties. */
    take(size, rest = Event.empty) {
        if (size > this.length)
            this.append(rest.subarray(0, size - this.length));
        const bytes = this.buffer.subarray(0, size);
        this.clear();
        return bytes;
    }
    clear() {
        this.buffer = Event.empty;
        this.length = 0;
    }
}
