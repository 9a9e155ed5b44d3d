import { assert, describe, it } from "@effect/vitest"
import * as Pacer from "../src/internal/pacer.js"

/** A pacer on a clock and a check phase the test moves by hand. */
const setup = (options: { readonly batch?: number } = {}) => {
  let time = 1000
  let queued: Array<() => void> = []
  let waiting = 0
  const handOns: Array<number> = []
  const pacer = Pacer.make({
    ...options,
    handOn: () => {
      handOns.push(waiting)
      waiting = 0
    },
    waiting: () => waiting,
    now: () => time,
    later: (f) => {
      queued.push(f)
    }
  })
  return {
    handOns,
    accept: (n = 1) => {
      for (let i = 0; i < n; i++) {
        waiting++
        pacer.accepted()
      }
    },
    advance: (ms: number) => {
      time += ms
    },
    /** Runs one check phase. */
    turn: () => {
      const now = queued
      queued = []
      for (const f of now) f()
    },
    pending: () => queued.length
  }
}

describe("Pacer", () => {
  it("hands on a connection that arrives after a quiet spell in the next check phase", () => {
    const t = setup()
    t.accept()
    assert.deepStrictEqual(t.handOns, [])
    t.turn()
    assert.deepStrictEqual(t.handOns, [1])
    assert.strictEqual(t.pending(), 0)
    t.advance(50)
    t.accept()
    t.turn()
    assert.deepStrictEqual(t.handOns, [1, 1])
  })

  it("holds a burst until it pauses for half a millisecond, looking again every check phase", () => {
    const t = setup()
    t.accept() // after a quiet spell
    t.turn()
    t.advance(0.1)
    t.accept() // 0.1 ms later: a burst
    t.turn()
    t.advance(0.1)
    t.accept(3)
    t.turn()
    t.advance(0.3)
    t.turn()
    assert.deepStrictEqual(t.handOns, [1], "held while the burst goes on")
    assert.strictEqual(t.pending(), 1, "looked at again in the next check phase")
    t.advance(0.2) // 0.5 ms since the last accept
    t.turn()
    assert.deepStrictEqual(t.handOns, [1, 4])
    assert.strictEqual(t.pending(), 0, "no more polling once handed on")
  })

  it("hands on a burst once 16 are waiting", () => {
    const t = setup()
    t.accept()
    t.turn()
    t.advance(0.1)
    t.accept(15)
    t.turn()
    assert.deepStrictEqual(t.handOns, [1], "15 held")
    t.accept()
    t.turn()
    assert.deepStrictEqual(t.handOns, [1, 16])
  })

  it("holds nothing longer than 10 ms after the last hand-over, however long the burst", () => {
    const t = setup({ batch: 1000 })
    t.accept()
    t.turn()
    for (let i = 0; i < 49; i++) {
      t.advance(0.2)
      t.accept()
      t.turn()
    }
    // 49 accepts 0.2 ms apart: 9.8 ms after the first hand-over, none yet.
    assert.deepStrictEqual(t.handOns, [1])
    t.advance(0.2)
    t.accept()
    t.turn()
    assert.deepStrictEqual(t.handOns, [1, 50])
  })
})
