import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Scope } from "effect"
import Iconv from "iconv-lite"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { ServerLive } from "../examples/upper-case-server.js"
import { TcpServer } from "../src/index.js"
import { connect } from "./utils/Client.js"

const root = Path.join(import.meta.dirname, "..")

describe("README", () => {
  it("shows the library example exactly as it is in examples/, where it is type-checked", () => {
    const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
    const example = Fs.readFileSync(Path.join(root, "examples", "upper-case-server.ts"), "utf8")
    const block = readme.match(/<!-- example: examples\/upper-case-server\.ts -->\n```ts\n([\s\S]*?)```/)
    assert.isNotNull(block, "README has the example block")
    assert.strictEqual(block?.[1], example)
  })

  it.scoped("the example serves real clients", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(ServerLive, scope).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["PORT", "0"], ["HOST", "127.0.0.1"]])))
      )
      const { address } = Context.get(context, TcpServer.TcpServer)
      const client = yield* connect(address.port)
      yield* client.write(Iconv.encode("hello 你好", "gbk"))
      const expected = Iconv.encode("HELLO 你好", "gbk")
      assert.deepStrictEqual(yield* client.read(expected.length), expected)
      yield* Scope.close(scope, Exit.void)
      yield* client.closed
    }))
})
