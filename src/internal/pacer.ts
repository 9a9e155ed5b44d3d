/**
 * Hands accepted sockets on to the accept loop, paced. Node accepts one connection per event-loop turn, so
 * setting each connection up in the turn that accepted it caps the accept rate at the setup rate: in a burst
 * the kernel's listen queue fills and drops SYNs, which clients resend only after a second. So while
 * connections keep arriving less than `quietMillis` apart, they are handed on `batch` at a time, at most every
 * `maxHoldMillis` (about half the time goes to accepting, half to setting up); once none has arrived for
 * `quietMillis`, `batch` per turn. A connection that arrives after a quiet spell is handed on at once.
 *
 * Measured with 10,000 connections opened by 100 connecting clients at a time (server on CPU 0, client on CPU 1):
 * 3.7 to 4.7 s and 300 to 400 listen-queue overflows (4 runs), against 8.7 to 12 s and about 1,100 when each
 * connection was set up in the turn that accepted it. Churn gains too, from setting connections up in groups:
 * 4,800 to 5,100 cycles/s with 16 workers, 187 to 204 µs of server CPU per cycle, against 3,200 to 4,300 and
 * 225 to 302 µs. A longer quiet time (2 ms) accepts bursts faster (1.7 to 2.8 s) but holds back steady churn.
 *
 * @internal
 */
export const make = <A>(
  handOn: (sockets: ReadonlyArray<A>) => void,
  { batch = 16, maxHoldMillis = 10, quietMillis = 0.5 } = {}
) => {
  const held: Array<A> = []
  let lastAccept = -Infinity
  let inBurst = false
  let ticking = false
  let lastHandOn = -Infinity
  // Runs in the check phase, after the turn's accepts.
  const tick = () => {
    const now = performance.now()
    if (!inBurst || now - lastAccept >= quietMillis || now - lastHandOn >= maxHoldMillis) {
      lastHandOn = now
      handOn(held.splice(0, batch))
    }
    if (held.length > 0) setImmediate(tick)
    else ticking = false
  }
  return {
    add: (socket: A) => {
      const now = performance.now()
      inBurst = now - lastAccept < quietMillis
      lastAccept = now
      held.push(socket)
      if (!ticking) {
        ticking = true
        setImmediate(tick)
      }
    },
    /** Takes every socket not yet handed on. */
    takeAll: () => held.splice(0)
  }
}
