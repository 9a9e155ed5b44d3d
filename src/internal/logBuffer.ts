/** @internal */
export interface Options {
  /** Lines held while the destination is not draining; beyond it lines are dropped and counted. */
  readonly maxPendingLines?: number | undefined
  /** Characters (UTF-16 code units) held while the destination is not draining. */
  readonly maxPendingChars?: number | undefined
  /** The line written, once writing resumes, in place of the lines dropped meanwhile. */
  readonly dropped?: ((count: number) => string) | undefined
}

/** @internal */
export interface Buffer {
  readonly push: (line: string) => void
  readonly flush: () => void
  readonly resume: () => void
  readonly dropped: () => number
}

/** @internal */
export const defaultMaxPendingLines = 10_000

/** @internal */
export const defaultMaxPendingChars = 1024 * 1024

const defaultDropped = (count: number): string =>
  `WARN ${count} log ${count === 1 ? "line" : "lines"} dropped: the log output was not being read`

/**
 * Lines are joined and written at most once a millisecond (or every 512 lines): a write per event-loop turn
 * would be a write per connection or two under churn, where a turn handles about one client. When `write`
 * returns `false` (a stream over its high-water mark) nothing more is written until `resume` is called (on
 * `drain`); meanwhile at most `maxPendingLines` lines and `maxPendingChars` characters are held and the rest are
 * dropped and counted, then reported by one line when writing resumes, in the place where they were lost.
 *
 * @internal
 */
export const make = (write: (chunk: string) => boolean | void, options?: Options): Buffer =>
  makeWith(joinText, write, options)

/**
 * {@link make}, writing the lines as UTF-8 bytes: encoded straight into one buffer, which costs about a third less
 * than joining them into one string that the destination then encodes (a json record of a message: 1.15 against
 * 1.55 µs, `.scratch/joinb.mjs`).
 *
 * @internal
 */
export const makeBytes = (write: (chunk: Uint8Array) => boolean | void, options?: Options): Buffer =>
  makeWith(joinBytes, write, options)

const joinText = (lines: ReadonlyArray<string>): string => lines.join("\n") + "\n"

const joinBytes = (lines: ReadonlyArray<string>, chars: number): Uint8Array => {
  // A UTF-16 code unit takes at most 3 bytes in UTF-8 (a surrogate pair, two units, takes 4).
  const bytes = globalThis.Buffer.allocUnsafe(chars * 3)
  let offset = 0
  for (const line of lines) {
    offset += bytes.write(line, offset)
    bytes[offset++] = 0x0a
  }
  return bytes.subarray(0, offset)
}

const makeWith = <C>(
  join: (lines: ReadonlyArray<string>, chars: number) => C,
  write: (chunk: C) => boolean | void,
  options: Options | undefined
): Buffer => {
  const maxLines = options?.maxPendingLines ?? defaultMaxPendingLines
  const maxChars = options?.maxPendingChars ?? defaultMaxPendingChars
  const droppedLine = options?.dropped ?? defaultDropped
  // The lines, without their newline; the characters they take with it.
  let pending: Array<string> = []
  let pendingChars = 0
  let scheduled = false
  let blocked = false
  let droppedNow = 0
  let droppedTotal = 0
  const flush = () => {
    scheduled = false
    if (blocked || pending.length === 0) return
    const chunk = join(pending, pendingChars)
    pending = []
    pendingChars = 0
    if (write(chunk) === false) blocked = true
  }
  return {
    push: (line) => {
      const size = line.length + 1
      if (pending.length > 0 && (pending.length >= maxLines || pendingChars + size > maxChars)) {
        // Room is made by writing, unless the destination asked to wait.
        flush()
        if (pending.length > 0) {
          droppedNow++
          droppedTotal++
          return
        }
      }
      pending.push(line)
      pendingChars += size
      if (pending.length >= 512) flush()
      else if (!scheduled) {
        scheduled = true
        setTimeout(flush, 1)
      }
    },
    flush,
    resume: () => {
      blocked = false
      if (droppedNow > 0) {
        // Everything held was accepted before the first drop, and everything after this line comes after.
        const line = droppedLine(droppedNow)
        pending.push(line)
        pendingChars += line.length + 1
        droppedNow = 0
      }
      flush()
    },
    dropped: () => droppedTotal
  }
}
