import type * as Connection from "../Connection.js"
import { type ConnectionError, FrameError } from "../Connection.js"
import * as Encoding from "../Encoding.js"
import * as Framing from "../Framing.js"
import * as Metrics from "../Metrics.js"
import type * as Reader from "./reader.js"
import * as Tally from "./tally.js"

/**
 * A frame, as the public `Frame` with a tag, so that taking one allocates nothing more.
 *
 * @internal
 */
export type TakenFrame = Connection.Frame & { readonly _tag: "Frame" }

/**
 * What taking a frame gives: a frame; nothing yet (wait for input); a pause (this connection has had its share
 * of the event-loop turn: let the others run); the end of input; a warning to log before taking again (a skipped
 * frame); or a failure.
 *
 * @internal
 */
export type Taken =
  | TakenFrame
  | { readonly _tag: "Wait" }
  | { readonly _tag: "Yield" }
  | { readonly _tag: "End" }
  | { readonly _tag: "Warn"; readonly message: string }
  | { readonly _tag: "Fail"; readonly error: ConnectionError | FrameError }

const wait: Taken = { _tag: "Wait" }
const pause: Taken = { _tag: "Yield" }
const end: Taken = { _tag: "End" }

/**
 * Frames, or bytes of them, one connection may take in one go before it lets the other connections run: a
 * client that sends thousands of tiny frames in one read is answered in slices, so the others' round trips stay
 * short.
 *
 * @internal
 */
export const budget = { frames: 128, bytes: 64 * 1024 } as const

/** @internal */
export interface Counters {
  /** Frames over the maximum size. */
  oversized: number
  /** Frames (or reads, in chunk framing) with bytes invalid in the encoding. */
  decodeErrors: number
}

/** @internal */
export interface Settings {
  readonly encoding: string
  readonly framing: Framing.Framing
  /** `fatal`: a frame with invalid bytes is a frame error; `replace`: they become U+FFFD. */
  readonly decodeErrors: "replace" | "fatal"
  readonly counters: Counters
}

const frame = (bytes: Uint8Array, text: string, ending: Uint8Array): TakenFrame => ({
  _tag: "Frame",
  bytes,
  text,
  ending
})

const noEnding = new Uint8Array(0)

/**
 * What frame errors and warnings name: the connection (its label is built only when a message needs it).
 *
 * @internal
 */
export interface Labeled {
  readonly label: string
}

/**
 * The frames of a reader: in chunk framing one per read, decoded with a streaming decoder; otherwise as the
 * frame decoder delimits them, one at a time, each decoded on its own. Frame errors are counted, then skipped
 * (with a warning) or turned into a failure, as the framing's policy says. `lastEnding` is the line ending or
 * delimiter of the last frame that had one.
 *
 * One object per connection (the two framings are two classes; the methods live on the prototype).
 *
 * @internal
 */
export abstract class Frames {
  lastEnding: Uint8Array | undefined = undefined
  // What this connection has taken in one go; past the budget, the next take is a pause.
  private frames = 0
  private bytes = 0

  constructor(
    protected readonly reader: Reader.Reader,
    protected readonly settings: Settings,
    protected readonly owner: Labeled,
    protected readonly tally: Tally.Tally
  ) {}

  /** Takes the next frame, or says why there is none. */
  abstract take(): Taken

  protected frameError(reason: FrameError["reason"], length: number, complete: boolean): Taken {
    const framing = this.settings.framing
    const error = new FrameError({
      reason,
      length,
      complete,
      encoding: this.settings.encoding,
      maxFrameBytes: framing._tag === "Chunk" ? 0 : framing.maxFrameBytes
    })
    const policy = framing._tag === "Chunk" ? "skip" : framing.onOversized
    return policy === "close"
      ? { _tag: "Fail", error }
      : { _tag: "Warn", message: `${this.owner.label}: ${error.message}: skipped` }
  }

  /** A frame with invalid bytes is counted; with fatal decoding it is a frame error, otherwise it is taken. */
  protected undecodable(length: number, complete: boolean): Taken | undefined {
    this.settings.counters.decodeErrors++
    Metrics.unsafeIncrement(Metrics.framesUndecodable)
    return this.settings.decodeErrors === "fatal" ? this.frameError("Undecodable", length, complete) : undefined
  }

  /** Counts a frame against the budget; true when the budget is spent (and then starts it again). */
  protected spend(size: number): boolean {
    this.frames++
    this.bytes += size
    if (this.frames <= budget.frames && this.bytes <= budget.bytes) return false
    this.frames = 0
    this.bytes = 0
    return true
  }

  /** Nothing to take: the budget starts again with the next input. */
  protected rest(): Taken {
    this.frames = 0
    this.bytes = 0
    return wait
  }
}

/** Chunk framing: a frame per read, decoded with a streaming decoder. */
class ChunkFrames extends Frames {
  private readonly decoder: Encoding.Decoder
  private flushed = false

  constructor(reader: Reader.Reader, settings: Settings, owner: Labeled, tally: Tally.Tally) {
    super(reader, settings, owner, tally)
    this.decoder = Encoding.decoder(settings.encoding)
  }

  take(): Taken {
    const read = this.reader.poll()
    const decoder = this.decoder
    switch (read._tag) {
      case "Wait":
        return this.rest()
      case "Fail":
        return read
      case "End": {
        if (this.flushed) return end
        this.flushed = true
        const before = decoder.invalid
        const text = decoder.end()
        if (text.length === 0) return end
        // A character cut off at the end of input.
        if (decoder.invalid > before) {
          const failure = this.undecodable(0, false)
          if (failure !== undefined) return failure
        }
        Tally.frame(this.tally, 0)
        return frame(noEnding, text, noEnding)
      }
      case "Chunk": {
        const before = decoder.invalid
        const text = decoder.write(read.bytes)
        if (decoder.invalid > before) {
          const failure = this.undecodable(read.bytes.length, true)
          if (failure !== undefined) return failure
        }
        Tally.frame(this.tally, read.bytes.length)
        return frame(read.bytes, text, noEnding)
      }
    }
  }
}

/** The other framings: frames as the frame decoder delimits them, one at a time, each decoded on its own. */
class DecodedFrames extends Frames {
  private readonly decoder: Framing.FrameDecoder
  private ended = false
  private spent = false

  constructor(
    reader: Reader.Reader,
    settings: Settings,
    owner: Labeled,
    tally: Tally.Tally,
    framing: Exclude<Framing.Framing, { readonly _tag: "Chunk" }>
  ) {
    super(reader, settings, owner, tally)
    this.decoder = Framing.makeDecoder(framing)
  }

  take(): Taken {
    const decoder = this.decoder
    for (;;) {
      if (this.spent) {
        this.spent = false
        return pause
      }
      // On shutdown, frames already read but not yet handled are dropped along with the unread input.
      if (this.reader.draining()) return end
      // One frame decoded per call: a read of many small frames is never held as many events at once.
      const event = decoder.next()
      if (event !== undefined) {
        switch (event._tag) {
          case "Frame": {
            this.spent = this.spend(event.bytes.length)
            const { invalid, text } = Encoding.decodeCounting(event.bytes, this.settings.encoding)
            if (invalid > 0) {
              const failure = this.undecodable(event.bytes.length, true)
              if (failure !== undefined) return failure
            }
            if (event.ending.length > 0) this.lastEnding = event.ending
            Tally.frame(this.tally, event.bytes.length)
            return frame(event.bytes, text, event.ending)
          }
          case "Oversized": {
            this.settings.counters.oversized++
            Metrics.unsafeIncrement(Metrics.framesOversized)
            return this.frameError("TooLong", event.length, event.complete)
          }
          case "Incomplete":
            return {
              _tag: "Warn",
              message:
                `${this.owner.label}: the input ended inside a frame (${event.length} of ${event.expected} bytes)`
            }
        }
      }
      if (this.ended) return end
      const read = this.reader.poll()
      switch (read._tag) {
        case "Wait":
          return this.rest()
        case "Fail":
          return read
        case "End":
          this.ended = true
          decoder.finish()
          break
        case "Chunk":
          decoder.feed(read.bytes)
      }
    }
  }
}

/** @internal */
export const make = (reader: Reader.Reader, settings: Settings, owner: Labeled, tally: Tally.Tally): Frames =>
  settings.framing._tag === "Chunk"
    ? new ChunkFrames(reader, settings, owner, tally)
    : new DecodedFrames(reader, settings, owner, tally, settings.framing)
