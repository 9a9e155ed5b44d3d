/**
 * When the accept loop hears of accepted sockets. A connection that arrives after a quiet spell is handed on in
 * the turn that accepted it. While connections keep arriving less than `quietMillis` apart (a burst), they are
 * held and handed on together: when the burst pauses for `quietMillis`, when `batch` are waiting, or at the
 * latest `maxHoldMillis` after the last hand-over. Meanwhile the pacer looks again in every check phase, so the
 * event loop polls without sleeping for at most `maxHoldMillis`.
 *
 * Why: connections set up together answer together. Handed on one by one under churn, each connection costs a
 * turn of the event loop of its own, and the clients, woken for every reply, sleep between them: with 16 churning
 * workers the client slept 0.57–0.65 times per cycle, and the server spent 268 µs of CPU per cycle with the
 * tutorial's lines; paced, 0.07 times and 160–170 µs, for 5,600–6,000 cycles/s against 3,600–3,700 (BENCHMARKS.md,
 * "Against the build before issue 11 (sixth round)").
 *
 * @internal
 */
export interface Pacer {
  /** A socket was accepted and added to what the accept loop will take. */
  readonly accepted: () => void
}

/** @internal */
export interface Options {
  /** Tells the accept loop that sockets are waiting. */
  readonly handOn: () => void
  /** How many sockets are waiting. */
  readonly waiting: () => number
  readonly quietMillis?: number | undefined
  readonly maxHoldMillis?: number | undefined
  readonly batch?: number | undefined
  /** The clock, in milliseconds (`performance.now`). */
  readonly now?: (() => number) | undefined
  /** Runs `f` in the next check phase (`setImmediate`). */
  readonly later?: ((f: () => void) => void) | undefined
}

/** @internal */
export const defaults = { quietMillis: 0.5, maxHoldMillis: 10, batch: 16 } as const

const immediately = (f: () => void): void => {
  setImmediate(f)
}

/** @internal */
export const make = (options: Options): Pacer => {
  const quietMillis = options.quietMillis ?? defaults.quietMillis
  const maxHoldMillis = options.maxHoldMillis ?? defaults.maxHoldMillis
  const batch = options.batch ?? defaults.batch
  const now = options.now ?? (() => performance.now())
  const later = options.later ?? immediately
  let lastAccept = Number.NEGATIVE_INFINITY
  let lastHandOn = Number.NEGATIVE_INFINITY
  let inBurst = false
  let scheduled = false
  const check = (): void => {
    const time = now()
    if (
      !inBurst || time - lastAccept >= quietMillis || time - lastHandOn >= maxHoldMillis ||
      options.waiting() >= batch
    ) {
      scheduled = false
      lastHandOn = time
      options.handOn()
    } else {
      later(check)
    }
  }
  return {
    accepted: () => {
      const time = now()
      inBurst = time - lastAccept < quietMillis
      lastAccept = time
      if (!scheduled) {
        scheduled = true
        later(check)
      }
    }
  }
}
