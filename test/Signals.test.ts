import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { connect } from "./utils/Client.js"
import { gbk, replyBytes } from "./utils/Server.js"

const bin = Path.join(import.meta.dirname, "..", "dist", "bin.js")

describe("signals", () => {
  it.scopedLive("the same Ctrl-C delivered twice at once (terminal and npm) still shuts down gracefully", () =>
    Effect.gen(function*() {
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          ChildProcess.spawn(process.execPath, [
            bin,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--goodbye",
            "再见"
          ], {
            stdio: ["ignore", "pipe", "pipe"]
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
      )
      const listening = yield* Deferred.make<number>()
      let out = ""
      child.stdout.setEncoding("utf8").on("data", (text: string) => {
        out += text
        const match = /listening on \S*:(\d+)/.exec(out)
        if (match !== null) Deferred.unsafeDone(listening, Exit.succeed(Number(match[1])))
      })
      const exited = yield* Deferred.make<number | null>()
      child.once("exit", (code) => Deferred.unsafeDone(exited, Exit.succeed(code)))
      const client = yield* connect(yield* Deferred.await(listening))
      yield* client.write(gbk("在吗"))
      yield* client.read(replyBytes.length)
      child.kill("SIGINT")
      // npm forwards the signal a few milliseconds after the terminal's reached the server (two signals sent at the
      // same instant would be merged into one by the kernel).
      yield* Effect.sleep("20 millis")
      child.kill("SIGINT")
      assert.deepStrictEqual(yield* client.closed, gbk("再见"), "the client got the goodbye: the shutdown was graceful")
      assert.strictEqual(yield* Deferred.await(exited), 0)
    }))
})
