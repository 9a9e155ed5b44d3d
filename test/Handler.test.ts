import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Framing, Handler } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { bytes, gbk, startServer } from "./utils/Server.js"

describe("Handler.tutorial", () => {
  it.scoped("logs frames in hex and echoes them", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer({
        framing: Framing.line(),
        handler: Handler.tutorial({ display: "both", answer: "echo" })
      })
      const client = yield* connect(port)
      yield* client.write(bytes(gbk("你好"), "\r\n"))
      assert.deepStrictEqual(yield* client.read(6), bytes(gbk("你好"), "\r\n"))
      yield* logs.waitFor((line) => line === `你好 [c4 e3 ba c3] ('127.0.0.1', ${client.localPort})`)
    }))
})
