import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { LineLogger } from "../src/index.js"

describe("LineLogger", () => {
  it.effect("prints Info as the bare message on out, warnings and errors with their level on err", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const err: Array<string> = []
      const logger = LineLogger.make({ out: (line) => out.push(line), err: (line) => err.push(line) })
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("客户端连接成功: ('127.0.0.1', 5000)")
        yield* Effect.logInfo("two", "parts")
        yield* Effect.logWarning("connection 1 failed: reset")
        yield* Effect.logError("boom")
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.deepStrictEqual(out, ["客户端连接成功: ('127.0.0.1', 5000)", "two parts"])
      assert.deepStrictEqual(err, ["WARN connection 1 failed: reset", "ERROR boom"])
    }))
})

describe("LineLogger.batched", () => {
  it("writes the lines of one event-loop turn in one call, in order", async () => {
    const chunks: Array<string> = []
    const batch = LineLogger.batched((chunk) => chunks.push(chunk))
    batch.push("a")
    batch.push("b")
    assert.deepStrictEqual(chunks, [])
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepStrictEqual(chunks, ["a\nb\n"])
    batch.push("c")
    batch.flush()
    assert.deepStrictEqual(chunks, ["a\nb\n", "c\n"])
  })

  it("bounds what it holds", () => {
    const chunks: Array<string> = []
    const batch = LineLogger.batched((chunk) => chunks.push(chunk))
    for (let i = 0; i < 1000; i++) batch.push(String(i))
    assert.strictEqual(chunks.length, 1)
    assert.strictEqual(chunks[0]?.split("\n").length, 513)
    batch.flush()
    assert.strictEqual(chunks.join("").split("\n").filter((l) => l.length > 0).length, 1000)
  })
})
