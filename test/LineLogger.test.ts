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
