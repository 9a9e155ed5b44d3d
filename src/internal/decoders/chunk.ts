import * as Event from "./event.js"

/**
 * `Chunk` mode: each non-empty chunk is one frame, handed back as it is. Holds nothing but the fed chunk.
 *
 * @internal
 */
class ChunkDecoder extends Event.PullDecoder {
  private input: Uint8Array | undefined = undefined
  private finished = false
  readonly buffered = 0

  readonly feed = (chunk: Uint8Array): void => {
    if (this.finished) return
    if (this.input !== undefined) throw Event.unconsumed()
    if (chunk.length > 0) this.input = chunk
  }

  readonly finish = (): void => {
    this.finished = true
  }

  readonly next = (): Event.FrameEvent | undefined => {
    const input = this.input
    if (input === undefined) return undefined
    this.input = undefined
    return Event.frameEvent(input, Event.empty)
  }
}

/**
 * A decoder for `Chunk` mode.
 *
 * @internal
 */
export const make = (): Event.FrameDecoder => new ChunkDecoder()
