import { assert, describe, it, vi } from "@effect/vitest"
import { Effect, FastCheck as fc, Logger, LogLevel } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { LineLogger } from "../src/index.js"
import * as FiberLog from "../src/internal/fiberLog.js"
import * as LogBuffer from "../src/internal/logBuffer.js"

const root = Path.join(import.meta.dirname, "..")
const dist = (module: string) => new URL(`file://${Path.join(root, "dist", module)}`).href

const capture = (format: LineLogger.Format) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const logger = LineLogger.makeFormat(format, { out: (line) => out.push(line), err: (line) => err.push(line) })
  const run = <A, E>(effect: Effect.Effect<A, E>) =>
    effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  return { out, err, run }
}

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

  it.effect("tutorial: a client cannot forge a line or reach the terminal", () =>
    Effect.gen(function*() {
      const { out, run } = capture("tutorial")
      yield* run(Effect.logInfo("收到消息: hi\n客户端下线了: ('10.66.66.66', 4444)\r\u001b]0;owned\u0007\u0000"))
      assert.deepStrictEqual(out, ["收到消息: hi\\n客户端下线了: ('10.66.66.66', 4444)\\r\\x1b]0;owned\\x07\\x00"])
    }))
})

describe("LineLogger.escapeControl", () => {
  it("escapes C0, DEL, C1 and the Unicode line separators, and nothing else", () => {
    assert.strictEqual(LineLogger.escapeControl("a\nb\rc\td"), "a\\nb\\rc\\td")
    assert.strictEqual(
      LineLogger.escapeControl("\u0000\u0001\u001b[31m\u007f\u0085\u009b"),
      "\\x00\\x01\\x1b[31m\\x7f\\x85\\x9b"
    )
    assert.strictEqual(LineLogger.escapeControl("x\u2028y\u2029z"), "x\\u2028y\\u2029z")
    const ordinary = "ok，数据正在处理中... 😀 café \\n back\\slash"
    assert.strictEqual(LineLogger.escapeControl(ordinary), ordinary)
  })

  it("is the same applied twice as once", () => {
    const once = LineLogger.escapeControl("a\nb\u001b")
    assert.strictEqual(LineLogger.escapeControl(once), once)
  })
})

describe("LineLogger formats", () => {
  const annotated = <A, E>(effect: Effect.Effect<A, E>) =>
    effect.pipe(Effect.annotateLogs({
      hex: "68 69 0a",
      bytes: 3,
      text: "hi\n{\"level\":\"error\"}",
      remote_port: 50123,
      remote_address: "127.0.0.1",
      connection: 7,
      event: "message",
      zone: "a b"
    }))

  it.effect("json: a line logged from a connection's events has the fiber's annotations and its own, its own winning", () =>
    Effect.gen(function*() {
      const { out, run } = capture("json")
      const maps: Array<Record<string, unknown>> = []
      const recorder = Logger.make(({ annotations }) => maps.push(Object.fromEntries(annotations)))
      yield* run(
        Effect.withFiberRuntime<void>((fiber) => {
          const log = FiberLog.make(fiber, LogLevel.Info, [["event", "message"], ["connection", 3]])
          log?.("hello", [["text", "hi"], ["connection", 4]])
          return Effect.void
        }).pipe(Effect.annotateLogs({ zone: "z", event: "base" }), Effect.provide(Logger.add(recorder)))
      )
      const record = JSON.parse(out[0] ?? "")
      assert.deepStrictEqual(Object.keys(record), [
        "timestamp",
        "level",
        "message",
        "event",
        "connection",
        "text",
        "zone"
      ])
      assert.deepStrictEqual({ ...record, timestamp: "" }, {
        timestamp: "",
        level: "info",
        message: "hello",
        event: "message",
        connection: 4,
        text: "hi",
        zone: "z"
      })
      // Any other logger gets the same annotations as a map.
      assert.deepStrictEqual(maps, [{ event: "message", connection: 4, text: "hi", zone: "z" }])
    }))

  it.prop(
    "json: any text, as message and as a field, is one line that parses back to that text",
    [fc.oneof(
      fc.string({ unit: "binary" }),
      fc.string({ unit: fc.constantFrom("a", "\"", "\\", "\n", "\u2028", "\ud800", "你") })
    )],
    ([text]) => {
      const { out, run } = capture("json")
      Effect.runSync(run(
        Effect.withFiberRuntime<void>((fiber) => {
          FiberLog.make(fiber, LogLevel.Info, [["event", "message"]])?.(text, [["text", text]])
          return Effect.void
        })
      ))
      Effect.runSync(run(Effect.logInfo(text).pipe(Effect.annotateLogs("text", text))))
      assert.strictEqual(out.length, 2)
      for (const line of out) {
        assert.notMatch(line, /[\n\r\u2028\u2029]/)
        const record = JSON.parse(line)
        assert.strictEqual(record.message, text)
        assert.strictEqual(record.text, text)
      }
    }
  )

  it.effect("json: one object per line, annotations as fields", () =>
    Effect.gen(function*() {
      const { err, out, run } = capture("json")
      yield* run(annotated(Effect.logInfo("收到消息")))
      yield* run(Effect.logWarning("slow\u2028down"))
      assert.deepStrictEqual(err, [])
      assert.strictEqual(out.length, 2)
      assert.isFalse(out.some((line) => /[\n\r\u2028]/.test(line)))
      const record = JSON.parse(out[0]!)
      assert.match(record.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.deepStrictEqual(Object.keys(record), [
        "timestamp",
        "level",
        "message",
        "event",
        "connection",
        "remote_address",
        "remote_port",
        "text",
        "bytes",
        "hex",
        "zone"
      ])
      assert.deepStrictEqual({ ...record, timestamp: "" }, {
        timestamp: "",
        level: "info",
        message: "收到消息",
        event: "message",
        connection: 7,
        remote_address: "127.0.0.1",
        remote_port: 50123,
        text: "hi\n{\"level\":\"error\"}",
        bytes: 3,
        hex: "68 69 0a",
        zone: "a b"
      })
      assert.strictEqual(JSON.parse(out[1]!).level, "warn")
      assert.strictEqual(JSON.parse(out[1]!).message, "slow\u2028down")
    }))

  it.effect("logfmt: bare values where possible, quoted and escaped otherwise", () =>
    Effect.gen(function*() {
      const { out, run } = capture("logfmt")
      yield* run(annotated(Effect.logInfo("收到消息")))
      yield* run(Effect.logError("back\\slash \"quoted\"\u001b[2J"))
      assert.strictEqual(out.length, 2)
      assert.match(
        out[0]!,
        /^timestamp=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info message=收到消息 event=message connection=7 remote_address=127\.0\.0\.1 remote_port=50123 text="hi\\n\{\\"level\\":\\"error\\"\}" bytes=3 hex="68 69 0a" zone="a b"$/
      )
      assert.match(out[1]!, / level=error message="back\\\\slash \\"quoted\\"\\x1b\[2J"$/)
    }))
})

describe("LineLogger.batched", () => {
  it("writes the lines of a millisecond in one call, in order", () => {
    vi.useFakeTimers()
    try {
      const chunks: Array<string> = []
      const batch = LineLogger.batched((chunk) => {
        chunks.push(chunk)
      })
      batch.push("a")
      vi.advanceTimersByTime(0)
      batch.push("b")
      assert.deepStrictEqual(chunks, [])
      vi.advanceTimersByTime(1)
      assert.deepStrictEqual(chunks, ["a\nb\n"])
      batch.push("c")
      batch.flush()
      assert.deepStrictEqual(chunks, ["a\nb\n", "c\n"])
      vi.advanceTimersByTime(1)
      assert.deepStrictEqual(chunks, ["a\nb\n", "c\n"], "nothing is written twice")
    } finally {
      vi.useRealTimers()
    }
  })

  it("as bytes (the standard streams and log files): the lines in UTF-8, whatever their characters", () => {
    const chunks: Array<Uint8Array> = []
    const batch = LogBuffer.makeBytes((chunk) => {
      chunks.push(chunk)
    })
    const lines = ["ascii", "你好，世界", "emoji 😀 pair", "lone \ud800 surrogate", "\u0800".repeat(5000), ""]
    for (const line of lines) batch.push(line)
    batch.flush()
    assert.strictEqual(chunks.length, 1)
    assert.deepStrictEqual(Buffer.from(chunks[0] ?? []), Buffer.from(lines.join("\n") + "\n"))
  })

  it("as bytes, bounds the bytes it holds while the destination is full, records written as bytes included", () => {
    const chunks: Array<Buffer> = []
    let full = true
    const batch = LogBuffer.makeBytes((chunk) => {
      chunks.push(Buffer.from(chunk))
      return !full
    }, { maxPendingChars: 1000, dropped: (count) => `dropped ${count}` })
    batch.push("first")
    batch.flush()
    // 31 bytes each with the newline, CJK text being 3 bytes a character; then records of 11 bytes.
    for (let i = 0; i < 100; i++) batch.push("你".repeat(10))
    for (let i = 0; i < 10; i++) batch.pushWith(10, (bytes, at) => at + bytes.write("0123456789", at))
    batch.flush()
    assert.strictEqual(chunks.length, 1, "nothing written while the destination is full")
    full = false
    batch.resume()
    const held = chunks[1]?.toString("utf8").split("\n").filter((line) => line.length > 0) ?? []
    const kept = held.filter((line) => line.startsWith("你"))
    assert.isAtMost(kept.length * 31, 1000)
    assert.strictEqual(kept.length, 32, "as many as fit in 1,000 bytes")
    assert.strictEqual(batch.dropped(), 100 - 32 + 10)
    assert.deepStrictEqual(held.slice(kept.length), [`dropped ${100 - 32 + 10}`])
  })

  it("writes every 512 lines within a turn", () => {
    const chunks: Array<string> = []
    const batch = LineLogger.batched((chunk) => {
      chunks.push(chunk)
    })
    for (let i = 0; i < 1000; i++) batch.push(String(i))
    assert.strictEqual(chunks.length, 1)
    assert.strictEqual(chunks[0]?.split("\n").length, 513)
    batch.flush()
    assert.strictEqual(chunks.join("").split("\n").filter((l) => l.length > 0).length, 1000)
  })

  it("holds a bounded number of lines while the destination is full, then says how many it dropped", () => {
    const chunks: Array<string> = []
    let full = true
    const batch = LineLogger.batched((chunk) => {
      chunks.push(chunk)
      return !full
    }, { maxPendingLines: 100, dropped: (count) => `dropped ${count}` })
    batch.push("first")
    batch.flush()
    assert.deepStrictEqual(chunks, ["first\n"])
    for (let i = 0; i < 1000; i++) batch.push(String(i))
    batch.flush()
    assert.deepStrictEqual(chunks, ["first\n"])
    assert.strictEqual(batch.dropped(), 900)
    full = false
    batch.resume()
    batch.push("after")
    batch.flush()
    const lines = chunks.join("").split("\n").filter((l) => l.length > 0)
    assert.deepStrictEqual(lines, [
      "first",
      ...Array.from({ length: 100 }, (_, i) => String(i)),
      "dropped 900",
      "after"
    ])
  })

  it("bounds the characters it holds, but never refuses a line while the destination accepts", () => {
    const chunks: Array<string> = []
    const batch = LineLogger.batched((chunk) => {
      chunks.push(chunk)
    }, { maxPendingChars: 10 })
    batch.push("a".repeat(8))
    batch.push("b".repeat(8))
    batch.push("c".repeat(50))
    batch.flush()
    assert.deepStrictEqual(chunks, ["a".repeat(8) + "\n", "b".repeat(8) + "\n", "c".repeat(50) + "\n"])
    assert.strictEqual(batch.dropped(), 0)
  })
})

describe("LineLogger.layerWith", () => {
  it.scoped("appends to a file and reopens it after a rename, losing and reordering nothing", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "line-logger-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const file = Path.join(dir, "server.log")
      Fs.writeFileSync(file, "earlier\n")
      yield* Effect.gen(function*() {
        const logger = yield* LineLogger.LineLogger
        yield* Effect.logInfo("one")
        yield* Effect.logWarning("two")
        Fs.renameSync(file, `${file}.1`)
        // Still pending when the reopen comes: it is written to the old file first.
        yield* Effect.logInfo("three")
        yield* logger.reopen
        yield* Effect.logInfo("four")
        yield* Effect.logError("five\nforged")
        yield* logger.flush
      }).pipe(Effect.provide(LineLogger.layerWith({ file })))
      assert.strictEqual(Fs.readFileSync(`${file}.1`, "utf8"), "earlier\none\nWARN two\nthree\n")
      assert.strictEqual(Fs.readFileSync(file, "utf8"), "four\nERROR five\\nforged\n")
    }))

  it.scoped("reopens the file on SIGHUP with reopenOnSignal", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "line-logger-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const file = Path.join(dir, "server.log")
      yield* Effect.gen(function*() {
        const logger = yield* LineLogger.LineLogger
        yield* LineLogger.reopenOnSignal()
        yield* Effect.logInfo("before")
        Fs.renameSync(file, `${file}.1`)
        // Listeners run in the order they were added: this one after the reopen.
        const signalled = Effect.async<void>((resume) => {
          process.once("SIGHUP", () => resume(Effect.void))
        })
        process.kill(process.pid, "SIGHUP")
        yield* signalled
        yield* Effect.logInfo("after")
        yield* logger.flush
      }).pipe(Effect.scoped, Effect.provide(LineLogger.layerWith({ file })))
      assert.strictEqual(Fs.readFileSync(`${file}.1`, "utf8"), "before\n")
      assert.strictEqual(Fs.readFileSync(file, "utf8"), "after\n")
    }))

  it.effect("fails with a readable error when the file cannot be opened", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.void.pipe(Effect.provide(LineLogger.layerWith({ file: "/nonexistent/dir/server.log" })))
      )
      assert.match(error.message, /^cannot open log file \/nonexistent\/dir\/server\.log: ENOENT/)
    }))
})

// The built library in a child process, so stdout is a real stream (run `npm run build` first; `npm test` does).
const child = (script: string) =>
  ChildProcess.spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"]
  })

const collect = (stream: NodeJS.ReadableStream) => {
  let text = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => text += chunk)
  return () => text
}

const exited = (process: ChildProcess.ChildProcess) =>
  new Promise<number | null>((resolve) => process.once("exit", (code) => resolve(code)))

describe("LineLogger under NodeRuntime.runMain", () => {
  for (const format of ["tutorial", "json"] as const) {
    it(`prints each ${format} line once, with Effect's pretty logger left on`, async () => {
      const proc = child(`
        import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
        import { Effect } from "effect"
        import * as LineLogger from "${dist("LineLogger.js")}"
        Effect.logInfo("hello").pipe(
          Effect.zipRight(Effect.logWarning("careful")),
          Effect.provide(LineLogger.layerWith({ format: "${format}" })),
          NodeRuntime.runMain
        )
      `)
      const out = collect(proc.stdout)
      const err = collect(proc.stderr)
      assert.strictEqual(await exited(proc), 0)
      if (format === "tutorial") {
        assert.strictEqual(out(), "hello\n")
        assert.strictEqual(err(), "WARN careful\n")
      } else {
        const lines = out().trimEnd().split("\n").map((line) => JSON.parse(line).message)
        assert.deepStrictEqual(lines, ["hello", "careful"])
        assert.strictEqual(err(), "")
      }
    })
  }
})

describe("LineLogger at process exit", () => {
  it("writes what is pending, to stdout and to a log file, when the process exits", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "line-logger-"))
    try {
      const file = Path.join(dir, "exit.log")
      const proc = child(`
        import { Effect, Layer } from "effect"
        import * as LineLogger from "${dist("LineLogger.js")}"
        const lines = Effect.forEach(["one", "two", "three"], (line) => Effect.logInfo(line))
        // Logged, not yet written (both writers batch per event-loop turn), then exit in the same turn.
        Effect.runFork(Effect.zipRight(lines, Effect.never).pipe(
          Effect.provide(LineLogger.layerWith({ format: "logfmt", file: ${JSON.stringify(file)} }))
        ))
        Effect.runFork(Effect.zipRight(lines, Effect.sync(() => process.exit(0))).pipe(
          Effect.provide(LineLogger.layer)
        ))
      `)
      const out = collect(proc.stdout)
      const err = collect(proc.stderr)
      assert.strictEqual(await exited(proc), 0, err())
      assert.strictEqual(out(), "one\ntwo\nthree\n")
      const logged = Fs.readFileSync(file, "utf8").trimEnd().split("\n").map((line) => line.replace(/^.* message=/, ""))
      assert.deepStrictEqual(logged, ["one", "two", "three"])
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("LineLogger on a pipe nobody reads", () => {
  it("keeps memory bounded, then reports the dropped lines once the pipe is read", async () => {
    const proc = child(`
      import { Effect } from "effect"
      import * as LineLogger from "${dist("LineLogger.js")}"
      const line = "x".repeat(200)
      Effect.gen(function*() {
        const logger = yield* LineLogger.LineLogger
        const before = process.memoryUsage().rss
        for (let i = 0; i < 300000; i++) {
          yield* Effect.logInfo(i + " " + line)
          if (i % 1000 === 0) yield* Effect.sleep(0)
        }
        const grown = process.memoryUsage().rss - before
        const dropped = yield* logger.dropped
        process.stderr.write(JSON.stringify({ grown, dropped }) + "\\n")
        // Stay alive until the dropped lines are reported.
        yield* Effect.never
      }).pipe(Effect.provide(LineLogger.layer), Effect.runFork)
    `)
    try {
      proc.stdout.pause()
      const err = collect(proc.stderr)
      const report = await new Promise<{ grown: number; dropped: number }>((resolve, reject) => {
        proc.stderr.on("data", () => {
          const line = err().split("\n").find((l) => l.startsWith("{"))
          if (line !== undefined) resolve(JSON.parse(line))
        })
        proc.once("exit", (code) => reject(new Error(`child exited (${code}): ${err()}`)))
      })
      // 300,000 lines of 200 characters are 60 MB of text (twice that in memory): all held without a bound.
      assert.isBelow(report.grown, 40 * 1024 * 1024, `RSS grew by ${report.grown} bytes`)
      assert.isAbove(report.dropped, 200_000)
      const out = collect(proc.stdout)
      proc.stdout.resume()
      const notice = `WARN ${report.dropped} log lines dropped: the log output was not being read`
      await new Promise<void>((resolve) => {
        const check = () => {
          if (out().includes(`${notice}\n`)) resolve()
        }
        proc.stdout.on("data", check)
        check()
      })
      const lines = out().split("\n")
      const at = lines.indexOf(notice)
      // The lines before the notice are the first ones logged, in order, with none missing.
      assert.deepStrictEqual(
        lines.slice(0, at).map((line) => Number(line.split(" ")[0])),
        Array.from({ length: at }, (_, i) => i)
      )
    } finally {
      proc.kill("SIGKILL")
    }
  })
})
