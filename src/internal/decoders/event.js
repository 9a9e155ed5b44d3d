/**
 * What the frame decoders report, the interface they share and the one piece of code they have in common: `push`
 * and `end` written over the pull primitives `feed`, `finish` and `next`.
 *
 * The public documentation of these types is in `Framing.ts`, which re-exports them.
 */
/** @internal */
export const LF = 0x0a;
/** @internal */
export const CR = 0x0d;
/** @internal */
export const empty = new Uint8Array(0);
/** @internal */
export const lf = Uint8Array.of(LF);
/** @internal */
export const crlf = Uint8Array.of(CR, LF);
const none = [];
/** @internal */
export const frameEvent = (bytes, ending) => ({ _tag: "Frame", bytes, ending });
/** @internal */
export const oversizedEvent = (length, max, complete, ending) => ({
    _tag: "Oversized",
    length,
    max,
    complete,
    ending
});
/** @internal */
export const incompleteEvent = (length, expected) => ({
    _tag: "Incomplete",
    length,
    expected
});
/** @internal */
export const asBuffer = (bytes) => Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/**
 * Thrown by `feed` when the previous chunk is not consumed yet: accepting it would mean holding two chunks, or
 * more, which the decoders' memory bound does not allow. A defect in the caller, not a condition of the input.
 *
 * @internal
 */
export const unconsumed = () => new Error("FrameDecoder.feed: the previous chunk is not consumed yet; call next() until it returns undefined");
/**
 * The pull primitives, to be written by each decoder, and `push`/`end` derived from them.
 *
 * @internal
 */
export class PullDecoder {
    push = (chunk) => {
        this.feed(chunk);
        return this.drain();
    };
    end = () => {
        this.finish();
        return this.drain();
    };
    drain() {
        let event = this.next();
        if (event === undefined)
            return none;
        const events = [event];
        while ((event = this.next()) !== undefined)
            events.push(event);
        return events;
    }
}
