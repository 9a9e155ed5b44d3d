import { assert, describe, it } from "@effect/vitest"
import { Effect, HashMap, Logger } from "effect"
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

  it.scoped("gives each message line its text and bytes, and with display hex or both its bytes in hex", () =>
    Effect.gen(function*() {
      const seen: Array<Record<string, unknown>> = []
      const recorder = Logger.make(({ annotations }) => {
        if (HashMap.has(annotations, "text")) seen.push(Object.fromEntries(HashMap.remove(annotations, "remote_port")))
      })
      for (const display of ["text", "hex", "both"] as const) {
        const tutorial = Handler.tutorial({ display })
        const { port } = yield* startServer({
          framing: Framing.line(),
          handler: (connection) => tutorial(connection).pipe(Effect.provide(Logger.add(recorder)))
        })
        const client = yield* connect(port)
        yield* client.write(bytes(gbk("你好"), "\n"))
        yield* client.end
        yield* client.closed
      }
      const common = { event: "message", connection: 1, remote_address: "127.0.0.1", text: "你好", bytes: 4 }
      assert.deepStrictEqual(seen, [common, { ...common, hex: "c4 e3 ba c3" }, { ...common, hex: "c4 e3 ba c3" }])
    }))
})
