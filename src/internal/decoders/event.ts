/**
 * What the frame decoders report, the interface they share and the one piece of code they have in common: `push`
 * and `end` written over the pull primitives `feed`, `finish` and `next`.
 *
 * The public documentation of these types is in `Framing.ts`, which re-exports them.
 */

/** @internal */
export type FrameEvent =
  | { readonly _tag: "Frame"; readonly bytes: Uint8Array; readonly ending: Uint8Array }
  | {
    readonly _tag: "Oversized"
    readonly length: number
    readonly max: number
    readonly complete: boolean
    readonly ending: Uint8Array
  }
  | { readonly _tag: "Incomplete"; readonly length: number; readonly expected: number }

/** @internal */
export interface FrameDecoder {
  /**
   * Hands over the next chunk. Call only when the previous one is consumed (`next()` has returned `undefined`):
   * otherwise this throws. The decoder keeps a reference to the chunk until then.
   */
  readonly feed: (chunk: Uint8Array) => void
  /** Marks the end of input: `next()` then returns the last events (an unterminated frame, `Incomplete`, …). */
  readonly finish: () => void
  /**
   * The next event, or `undefined` when the decoder needs more input (or, after `finish`, has no more). Does
   * only the work for that one event.
   */
  readonly next: () => FrameEvent | undefined
  /** `feed`, then every event `next()` returns. */
  readonly push: (chunk: Uint8Array) => ReadonlyArray<FrameEvent>
  /** `finish`, then every event `next()` returns. */
  readonly end: () => ReadonlyArray<FrameEvent>
  /** Bytes currently held, not counting the fed chunk not yet consumed. */
  readonly buffered: number
}

/** @internal */
export const LF = 0x0a
/** @internal */
export const CR = 0x0d
/** @internal */
export const empty = new Uint8Array(0)
/** @internal */
export const lf = Uint8Array.of(LF)
/** @internal */
export const crlf = Uint8Array.of(CR, LF)

const none: ReadonlyArray<FrameEvent> = []

/** @internal */
export const frameEvent = (bytes: Uint8Array, ending: Uint8Array): FrameEvent => ({ _tag: "Frame", bytes, ending })

/** @internal */
export const oversizedEvent = (length: number, max: number, complete: boolean, ending: Uint8Array): FrameEvent => ({
  _tag: "Oversized",
  length,
  max,
  complete,
  ending
})

/** @internal */
export const incompleteEvent = (length: number, expected: number): FrameEvent => ({
  _tag: "Incomplete",
  length,
  expected
})

/** @internal */
export const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * Thrown by `feed` when the previous chunk is not consumed yet: accepting it would mean holding two chunks, or
 * more, which the decoders' memory bound does not allow. A defect in the caller, not a condition of the input.
 *
 * @internal
 */
export const unconsumed = (): Error =>
  new Error("FrameDecoder.feed: the previous chunk is not consumed yet; call next() until it returns undefined")

/**
 * The pull primitives, to be written by each decoder, and `push`/`end` derived from them.
 *
 * @internal
 */
export abstract class PullDecoder implements FrameDecoder {
  abstract readonly feed: (chunk: Uint8Array) => void
  abstract readonly finish: () => void
  abstract readonly next: () => FrameEvent | undefined
  abstract readonly buffered: number

  readonly push = (chunk: Uint8Array): ReadonlyArray<FrameEvent> => {
    this.feed(chunk)
    return this.drain()
  }

  readonly end = (): ReadonlyArray<FrameEvent> => {
    this.finish()
    return this.drain()
  }

  private drain(): ReadonlyArray<FrameEvent> {
    let event = this.next()
    if (event === undefined) return none
    const events = [event]
    while ((event = this.next()) !== undefined) events.push(event)
    return events
  }
}
