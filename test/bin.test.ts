import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import Iconv from "iconv-lite"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { Handler } from "../src/index.js"
import { bin, spawn, spawnShell } from "./utils/Bin.js"
import { connect } from "./utils/Client.js"
import { realPause } from "./utils/Server.js"

const gbk = (text: string) => Iconv.encode(text, "gbk")
const replyBytes = gbk(Handler.defaultReply)

describe("effect-tcp-server (built CLI)", () => {
  it.scoped("serves GBK clients, prints the tutorial's lines and exits 0 on SIGINT", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0"])
      const [, port] = yield* child.waitForLine(
        /^effect-tcp-server listening on 127\.0\.0\.1:(\d+) \(encoding gbk, framing chunk\)$/
      )
      const client = yield* connect(Number(port))
      const peer = `('127.0.0.1', ${client.localPort})`
      yield* child.waitForLine(new RegExp(`^客户端连接成功: \\('127\\.0\\.0\\.1', ${client.localPort}\\)$`))
      yield* client.write(gbk("你好"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
      yield* child.waitForLine(new RegExp(`^你好 \\('127\\.0\\.0\\.1', ${client.localPort}\\)$`))

      // An idle client is still connected when the signal arrives.
      const idle = yield* connect(Number(port))
      yield* idle.write(gbk("在"))
      yield* idle.read(replyBytes.length)
      yield* client.end
      yield* client.closed
      yield* child.waitForLine(new RegExp(`^客户端下线了: \\('127\\.0\\.0\\.1', ${client.localPort}\\)$`))

      const signalled = Date.now()
      child.process.kill("SIGINT")
      const exit = yield* child.exited
      const elapsed = Date.now() - signalled
      yield* idle.closed
      assert.deepStrictEqual(exit, { code: 0, signal: null })
      assert.isBelow(elapsed, 1000, "exits within a second")
      assert.strictEqual(child.stderr(), "")
      assert.include(child.stdout().split("\n"), `客户端连接成功: ${peer}`)
    }))

  it.scoped("on SIGINT, lets connections finish, says goodbye and logs how many it closed", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0", "--goodbye", "再见"])
      const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
      const clients = yield* Effect.forEach(Array.from({ length: 3 }), () => connect(Number(port)))
      yield* Effect.forEach(
        clients,
        (client) => Effect.zipRight(client.write(gbk("在")), client.read(replyBytes.length))
      )
      child.process.kill("SIGINT")
      for (const client of clients) assert.deepStrictEqual(yield* client.closed, gbk("再见"))
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
      const lines = child.stdout().split("\n")
      assert.include(lines, "shutting down: closing 3 connections")
      assert.include(lines, "shutdown: 3 connections closed")
    }))

  it.scoped("a second SIGINT exits at once while a connection is still flushing", () =>
    Effect.gen(function*() {
      const child = yield* spawn([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--quiet",
        "--framing",
        "line",
        "--shutdown-grace",
        "30",
        "--reply",
        "回".repeat(5000)
      ])
      const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
      // A client that sends lines and reads nothing: the 10 KB replies fill every buffer, and the handler
      // waits to write (for up to the 30 s write timeout), past the first SIGINT.
      const client = yield* connect(Number(port))
      client.socket.pause()
      const lines = Buffer.from("x\n".repeat(5_000))
      client.socket.write(lines)
      yield* realPause(500)
      child.process.kill("SIGINT")
      yield* realPause(300)
      assert.strictEqual(child.process.exitCode, null, "the first SIGINT waits for the grace period")
      const signalled = Date.now()
      child.process.kill("SIGINT")
      const exit = yield* child.exited
      assert.isBelow(Date.now() - signalled, 1000)
      assert.deepStrictEqual(exit, { code: null, signal: "SIGINT" })
    }))

  it.scoped("exits 0 on SIGTERM", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0"])
      yield* child.waitForLine(/listening on/)
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
    }))

  it.scoped("reports a port in use in one line and exits non-zero", () =>
    Effect.gen(function*() {
      const first = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0"])
      const [, port] = yield* first.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
      const second = yield* spawn(["serve", "--host", "127.0.0.1", "--port", port])
      const exit = yield* second.exited
      assert.strictEqual(exit.code, 1)
      assert.strictEqual(
        second.stderr(),
        `effect-tcp-server: port ${port} on 127.0.0.1 is already in use: stop the program using it or choose another port\n`
      )
    }))

  it.scoped("reports a bad flag in one line, naming the flag, and exits 2", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--port", "ninety"])
      const exit = yield* child.exited
      assert.strictEqual(exit.code, 2)
      assert.strictEqual(
        child.stderr(),
        `effect-tcp-server: invalid --port "ninety": expected a whole number from 0 to 65535 ` +
          `(see effect-tcp-server serve --help)\n`
      )
      assert.strictEqual(child.stdout(), "")
    }))

  it.scoped("reports a flag without its value, and a bad environment variable by its name", () =>
    Effect.gen(function*() {
      const missing = yield* spawn(["serve", "--port"])
      assert.strictEqual((yield* missing.exited).code, 2)
      assert.strictEqual(
        missing.stderr(),
        "effect-tcp-server: --port needs a value (see effect-tcp-server serve --help)\n"
      )
      const env = yield* spawn(["serve"], { TCP_SERVER_PORT: "abc" })
      assert.strictEqual((yield* env.exited).code, 2)
      assert.strictEqual(
        env.stderr(),
        `effect-tcp-server: invalid TCP_SERVER_PORT "abc": expected a whole number from 0 to 65535 ` +
          `(see effect-tcp-server serve --help)\n`
      )
    }))

  it.scoped("reports an unknown encoding as a usage error", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0", "--encoding", "klingon"])
      const exit = yield* child.exited
      assert.strictEqual(exit.code, 2)
      assert.strictEqual(
        child.stderr(),
        `effect-tcp-server: invalid --encoding "klingon": expected an encoding that "effect-tcp-server encodings" ` +
          `lists (see effect-tcp-server serve --help)\n`
      )
    }))

  it.scoped("writes an IPv6 address in brackets in the start line", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "::1", "--port", "0", "--framing", "line"])
      const [, port] = yield* child.waitForLine(
        /^effect-tcp-server listening on \[::1\]:(\d+) \(encoding gbk, framing line\)$/
      )
      assert.isAbove(Number(port), 0)
      child.process.kill("SIGTERM")
      assert.strictEqual((yield* child.exited).code, 0)
    }))

  it.scoped("prints help that fits 80 columns, without colour when piped or with NO_COLOR", () =>
    Effect.gen(function*() {
      const cases = [
        [["--help"], {}],
        [["serve", "--help"], {}],
        [["serve", "-h"], { NO_COLOR: "1" }],
        [["bench", "--help"], {}]
      ] as const
      for (const [args, env] of cases) {
        const child = yield* spawn(args, env)
        assert.strictEqual((yield* child.exited).code, 0)
        const text = child.stdout()
        assert.notInclude(text, "\u001b", "no escape sequences")
        for (const line of text.split("\n")) assert.isAtMost([...line].length, 80, line)
      }
      const top = yield* spawn(["--help"])
      yield* top.exited
      assert.match(top.stdout(), /^ {2}serve +accept TCP clients/m)
      assert.match(top.stdout(), /^ {2}encodings +list the encodings/m)
    }))

  it.scoped("prints help in colour on a terminal, unless NO_COLOR is set", () =>
    Effect.gen(function*() {
      // `script` runs the command in a pseudo-terminal.
      const onTerminal = (env: string) =>
        spawnShell(`${env} script -qec '"${process.execPath}" "${bin}" serve --help' /dev/null`)
      const coloured = yield* onTerminal("")
      assert.strictEqual((yield* coloured.exited).code, 0)
      assert.include(coloured.stdout(), "\u001b[1mUsage:\u001b[22m")
      const plain = yield* onTerminal("NO_COLOR=1")
      assert.strictEqual((yield* plain.exited).code, 0)
      assert.include(plain.stdout(), "Usage:")
      assert.notInclude(plain.stdout(), "\u001b")
    }))

  it.scoped("--log-level warning (or TCP_SERVER_LOG_LEVEL) hides the line per connection and message", () =>
    Effect.gen(function*() {
      for (
        const [args, env] of [[["--log-level", "warning"], {}], [[], { TCP_SERVER_LOG_LEVEL: "warning" }]] as const
      ) {
        const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0", ...args], env)
        const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* connect(Number(port))
          yield* client.write(gbk("你好"))
          assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
        }))
        child.process.kill("SIGTERM")
        assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
        assert.deepStrictEqual(child.stdout().trim().split("\n").length, 1, child.stdout())
      }
    }))

  it.scoped("SIGUSR1 prints a stats line and opens no inspector; the server keeps answering", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0"])
      const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
      child.process.kill("SIGUSR1")
      // Node's own reaction to SIGUSR1 would be "Debugger listening on ws://127.0.0.1:9229/…" on stderr.
      yield* child.waitForStderr(/^(stats: |Debugger listening)/)
      assert.match(child.stderr(), /^stats: active=0 accepted=0 refused=0 rss=\d+MiB\n$/)
      const sockets = ChildProcess.execFileSync("ss", ["-ltnpH"], { encoding: "utf8" }).split("\n")
        .filter((line) => line.includes(`pid=${child.process.pid},`))
      assert.deepStrictEqual(sockets.map((line) => line.split(/\s+/)[3]), [`127.0.0.1:${port}`], "only the server")
      const client = yield* connect(Number(port))
      yield* client.write(gbk("你好"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
    }))

  it.scoped("SIGUSR1 opens no inspector while the program is still loading", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0"])
      // Node itself starts in about 0.1 s here; loading the program takes most of a second more.
      yield* realPause(400)
      child.process.kill("SIGUSR1")
      yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
      assert.notInclude(child.stderr(), "Debugger listening")
      const inspector = ChildProcess.execFileSync("ss", ["-ltnpH"], { encoding: "utf8" }).split("\n")
        .filter((line) => line.includes(`pid=${child.process.pid},`) && line.includes(":9229 "))
      assert.deepStrictEqual(inspector, [])
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
    }))

  it.scoped("SIGHUP does not stop the server", () =>
    Effect.gen(function*() {
      const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0"])
      const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
      child.process.kill("SIGHUP")
      const hangup = yield* Effect.race(
        Effect.as(child.waitForLine(/^SIGHUP: nothing to reopen$/), "logged"),
        Effect.map(child.exited, (exit) => `exited ${JSON.stringify(exit)}`)
      )
      assert.strictEqual(hangup, "logged")
      const client = yield* connect(Number(port))
      yield* client.write(gbk("还在吗"))
      assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
      child.process.kill("SIGTERM")
      assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
    }))

  it.scoped("prints its version and lists encodings", () =>
    Effect.gen(function*() {
      const version = yield* spawn(["--version"])
      assert.strictEqual((yield* version.exited).code, 0)
      assert.match(version.stdout().trim(), /^\d+\.\d+\.\d+/)
      const encodings = yield* spawn(["encodings"])
      assert.strictEqual((yield* encodings.exited).code, 0)
      const names = encodings.stdout().trim().split("\n")
      for (const name of ["gbk", "gb18030", "big5", "shiftjis", "utf8"]) assert.include(names, name)
    }))
})

describe("effect-tcp-server line framing", () => {
  it.scoped(
    "a client sending 100 MB without a newline leaves the server's memory bounded",
    () =>
      Effect.gen(function*() {
        const child = yield* spawn(["serve", "--host", "127.0.0.1", "--port", "0", "--quiet", "--framing", "line"])
        const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
        const client = yield* connect(Number(port))
        const megabyte = Buffer.alloc(1024 * 1024, 0x61)
        for (let i = 0; i < 100; i++) yield* client.write(megabyte)
        yield* client.write("\nok\n")
        assert.deepStrictEqual(
          yield* client.read(replyBytes.length + 1),
          Buffer.concat([replyBytes, Buffer.from("\n")])
        )
        yield* child.waitForStderr(/a frame of 104857600 bytes is longer than the maximum of 65536 bytes/)
        const status = Fs.readFileSync(`/proc/${child.process.pid}/status`, "utf8")
        const peakMiB = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]) / 1024
        assert.isBelow(peakMiB, 200, `peak RSS ${peakMiB} MiB after receiving 100 MB`)
      }),
    60_000
  )
})

describe("effect-tcp-server out of file descriptors", () => {
  it.scoped("logs EMFILE, keeps running and serves new clients once the flood is gone", () =>
    Effect.gen(function*() {
      const child = yield* spawnShell(
        `ulimit -n 256 && exec "${process.execPath}" "${bin}" serve --host 127.0.0.1 --port 0 --quiet`
      )
      const [, port] = yield* child.waitForLine(/listening on 127\.0\.0\.1:(\d+)/)
      // Far more clients than the server has descriptors: the surplus is accepted by the kernel, then refused.
      yield* Effect.scoped(Effect.gen(function*() {
        const flood = yield* Effect.forEach(
          Array.from({ length: 400 }),
          () => Effect.either(connect(Number(port))),
          { concurrency: 20 }
        )
        assert.isAbove(flood.length, 0)
        yield* child.waitForStderr(/out of file descriptors \(EMFILE\)/)
      }))
      // The flood is closed: descriptors free up and the server serves again.
      const client = yield* Effect.retry(
        Effect.scoped(Effect.flatMap(connect(Number(port)), (c) =>
          Effect.zipRight(c.write(gbk("还在吗")), c.read(replyBytes.length)).pipe(Effect.timeout("2 seconds")))),
        { times: 20 }
      )
      assert.deepStrictEqual(client, replyBytes)
      assert.strictEqual(child.process.exitCode, null, "still running")
      child.process.kill("SIGINT")
      assert.strictEqual((yield* child.exited).code, 0)
    }), 60_000)
})
