import * as Effect from "effect/Effect"

/**
 * Wakes one waiting fiber: `wait` suspends until `notify` is called; a `notify` with nobody waiting is dropped
 * (the waiter looks at its state before it waits again). Cheaper than a Deferred or a Queue for a hand-over that
 * happens on every message or connection.
 *
 * @internal
 */
export interface WakeUp {
  readonly wait: Effect.Effect<void>
  readonly notify: () => void
  /** Forgets the waiter, if any. */
  readonly clear: () => void
}

/**
 * `onWait` runs each time a fiber starts waiting.
 *
 * @internal
 */
export const make = (onWait?: () => void): WakeUp => {
  let waiter: ((effect: Effect.Effect<void>) => void) | undefined
  return {
    // No canceler: after an interruption the fiber ignores a late resume, and `notify` drops it.
    wait: Effect.async<void>((resume) => {
      onWait?.()
      waiter = resume
    }),
    notify: () => {
      const resume = waiter
      if (resume !== undefined) {
        waiter = undefined
        resume(Effect.void)
      }
    },
    clear: () => {
      waiter = undefined
    }
  }
}
