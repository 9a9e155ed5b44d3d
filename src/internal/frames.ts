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
 * The frames of a reader: in chunk framing one per read, decoded with a streaming decoder; otherwise as the
 * frame decoder delimits them, one at a time, each decoded on its own. Frame errors are counted, then skipped
 * (with a warning) or turned into a failure, as the framing's policy says. `onEnding` gets the line ending or
 * delimiter of every frame that has one.
 *
 * @internal
 */
export const make = (
  reader: Reader.Reader,
  settings: Settings,
  label: string,
  onEnding: (ending: Uint8Array) => void,
  tally: Tally.Tally
): () => Taken => {
  const { counters, encoding, framing } = settings
  const policy = framing._tag === "Chunk" ? "skip" : framing.onOversized
  const frameError = (reason: FrameError["reason"], length: number, complete: boolean): Taken => {
    const error = new FrameError({
      reason,
      length,
      complete,
      encoding,
      maxFrameBytes: framing._tag === "Chunk" ? 0 : framing.maxFrameBytes
    })
    return policy === "close"
      ? { _tag: "Fail", error }
      : { _tag: "Warn", message: `${label}: ${error.message}: skipped` }
  }
  // A frame with invalid bytes is counted; with fatal decoding it is a frame error, otherwise it is taken.
  const undecodable = (length: number, complete: boolean): Taken | undefined => {
    counters.decodeErrors++
    Metrics.unsafeIncrement(Metrics.framesUndecodable)
    return settings.decodeErrors === "fatal" ? frameError("Undecodable", length, complete) : undefined
  }
  let frames = 0
  let bytes = 0
  // Counts what this connection takes in one go; past the budget, the next take is a pause.
  const spend = (size: number): boolean => {
    frames++
    bytes += size
    if (frames <= budget.frames && bytes <= budget.bytes) return false
    frames = 0
    bytes = 0
    return true
  }
  const rest = () => {
    frames = 0
    bytes = 0
    return wait
  }

  if (framing._tag === "Chunk") {
    const decoder = Encoding.decoder(encoding)
    let flushed = false
    return () => {
      const read = reader.poll()
      switch (read._tag) {
        case "Wait":
          return rest()
        case "Fail":
          return read
        case "End": {
          if (flushed) return end
          flushed = true
          const before = decoder.invalid
          const text = decoder.end()
          if (text.length === 0) return end
          // A character cut off at the end of input.
          if (decoder.invalid > before) {
            const failure = undecodable(0, false)
            if (failure !== undefined) return failure
          }
          Tally.frame(tally, 0)
          return frame(noEnding, text, noEnding)
        }
        case "Chunk": {
          const before = decoder.invalid
          const text = decoder.write(read.bytes)
          if (decoder.invalid > before) {
            const failure = undecodable(read.bytes.length, true)
            if (failure !== undefined) return failure
          }
          Tally.frame(tally, read.bytes.length)
          return frame(read.bytes, text, noEnding)
        }
      }
    }
  }

  const decoder = Framing.makeDecoder(framing)
  let ended = false
  let spent = false
  return () => {
    for (;;) {
      if (spent) {
        spent = false
        return pause
      }
      // On shutdown, frames already read but not yet handled are dropped along with the unread input.
      if (reader.draining()) return end
      // One frame decoded per call: a read of many small frames is never held as many events at once.
      const event = decoder.next()
      if (event !== undefined) {
        switch (event._tag) {
          case "Frame": {
            spent = spend(event.bytes.length)
            const { invalid, text } = Encoding.decodeCounting(event.bytes, encoding)
            if (invalid > 0) {
              const failure = undecodable(event.bytes.length, true)
              if (failure !== undefined) return failure
            }
            if (event.ending.length > 0) onEnding(event.ending)
            Tally.frame(tally, event.bytes.length)
            return frame(event.bytes, text, event.ending)
          }
          case "Oversized": {
            counters.oversized++
            Metrics.unsafeIncrement(Metrics.framesOversized)
            return frameError("TooLong", event.length, event.complete)
          }
          case "Incomplete":
            return {
              _tag: "Warn",
              message: `${label}: the input ended inside a frame (${event.length} of ${event.expected} bytes)`
            }
        }
      }
      if (ended) return end
      const read = reader.poll()
      switch (read._tag) {
        case "Wait":
          return rest()
        case "Fail":
          return read
        case "End":
          ended = true
          decoder.finish()
          break
        case "Chunk":
          decoder.feed(read.bytes)
      }
    }
  }
}
