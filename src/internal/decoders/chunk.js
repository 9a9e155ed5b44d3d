import * as Event from "./event.js";
/**
 * `Chunk` mode: each non-empty chunk is one frame, handed back as it is. Holds nothing but the fed chunk.
 *
 * @internal
 */
class ChunkDecoder extends Event.PullDecoder {
    input = undefined;
    finished = false;
    buffered = 0;
    feed = (chunk) => {
        if (this.finished)
            return;
        if (this.input !== undefined)
            throw Event.unconsumed();
        if (chunk.length > 0)
            this.input = chunk;
    };
    finish = () => {
        this.finished = true;
    };
    next = () => {
        const input = this.input;
        if (input === undefined)
            return undefined;
        this.input = undefined;
        return Event.frameEvent(input, Event.empty);
    };
}
/**
 * A decoder for `Chunk` mode.
 *
 * @internal
 */
export const make = () => new ChunkDecoder();
