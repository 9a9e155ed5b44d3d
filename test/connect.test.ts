import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { PassThrough } from "node:stream"
import * as ConnectCli from "../src/ConnectCli.js"
import { Framing, Handler } from "../src/index.js"
import * as Client from "../src/internal/connectClient.js"
import { gbk, startServer } from "./utils/Server.js"

const root = Path.join(import.meta.dirname, "..")
const bin = Path.join(root, "dist", "bin.js")
// `connect` run from dist/ on its own, until the lead wires it into dist/bin.js (see connect-bin.mjs).
const connectBin = Path.join(root, "test", "utils", "connect-bin.mjs")
// Whether dist/bin.js has the connect command: its help then describes connect's own --wait flag.
const binHasConnect = Fs.existsSync(bin) &&
  (ChildProcess.spawnSync(process.execPath, [bin, "connect", "--help"], { encoding: "utf8" }).stdout ?? "")
    .includes("--wait")

/** Lines printed on the console, and a wait for a line to appear. */
const makeCapture = Effect.gen(function*() {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const wakers = new Set<() => void>()
  const push = (lines: Array<string>, args: ReadonlyArray<unknown>) =>
    Effect.sync(() => {
      lines.push(args.map(String).join(" "))
      for (const wake of [...wakers]) wake()
    })
  const console = yield* Effect.console
  const capture = {
    ...console,
    log: (...args: ReadonlyArray<unknown>) => push(stdout, args),
    error: (...args: ReadonlyArray<unknown>) => push(stderr, args)
  }
  const waitForStdout = (line: string): Effect.Effect<void> =>
    Effect.suspend(() =>
      stdout.includes(line) ? Effect.void : Effect.async<void>((resume) => {
        const wake = () => {
          wakers.delete(wake)
          resume(Effect.void)
        }
        wakers.add(wake)
        return Effect.sync(() => wakers.delete(wake))
      }).pipe(Effect.zipRight(waitForStdout(line)))
    )
  return { stdout, stderr, capture, waitForStdout }
})

/** Runs `connect ARGS` in-process with `input` as its standard input; the run is a fiber of the test's scope. */
const runConnect = (args: ReadonlyArray<string>, input: PassThrough) =>
  Effect.gen(function*() {
    const output = yield* makeCapture
    const fiber = yield* Command.run(ConnectCli.connect, { name: "connect", version: "0.0.0" })([
      "node",
      "connect",
      ...args
    ]).pipe(
      Effect.provideService(ConnectCli.Stdin, input),
      Effect.withConsole(output.capture),
      Effect.provide(NodeContext.layer),
      Effect.exit,
      Effect.forkScoped
    )
    return { ...output, fiber }
  })

const failureMessage = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Cause.squash(exit.cause)
  return error instanceof Error ? error.message : String(error)
}

/** `ncat -l 127.0.0.1 0` as the far end: what it received on the wire, and its stdin to answer with. */
const startNcat = Effect.gen(function*() {
  const child = yield* Effect.acquireRelease(
    Effect.sync(() => ChildProcess.spawn("ncat", ["-v", "-l", "127.0.0.1", "0"], { stdio: ["pipe", "pipe", "pipe"] })),
    (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  )
  let received = Buffer.alloc(0)
  let stderr = ""
  const wakers = new Set<() => void>()
  const wake = () => [...wakers].forEach((w) => w())
  child.stdout.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk])
    wake()
  })
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr += text
    wake()
  })
  const spawnFailed = new Promise<Error>((resolve) => child.once("error", resolve))
  const until = (done: () => boolean): Effect.Effect<void> =>
    Effect.suspend(() =>
      done() ? Effect.void : Effect.async<void>((resume) => {
        const w = () => {
          wakers.delete(w)
          resume(Effect.void)
        }
        wakers.add(w)
        return Effect.sync(() => wakers.delete(w))
      }).pipe(Effect.zipRight(until(done)))
    )
  yield* Effect.raceFirst(
    until(() => stderr.includes("Listening on")),
    Effect.flatMap(
      Effect.promise(() => spawnFailed),
      (error) => Effect.dieMessage(`cannot run ncat (apt-get install ncat): ${error.message}`)
    )
  )
  return {
    // ncat prints the port it was asked for (0), so read the one it bound from /proc.
    port: listeningPort(child.pid ?? 0),
    /** Waits until `n` bytes have arrived. */
    received: (n: number) => Effect.map(until(() => received.length >= n), () => received),
    /** Sends `bytes` to the client, then closes ncat's input: ncat then shuts the connection down. */
    answer: (bytes: Uint8Array) => Effect.sync(() => child.stdin.end(bytes))
  }
})

/** The TCP port the process `pid` listens on, from its socket descriptors and /proc/net/tcp. */
const listeningPort = (pid: number): number => {
  const inodes = new Set(
    Fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      const match = /^socket:\[(\d+)\]$/.exec(Fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
      return match?.[1] === undefined ? [] : [match[1]]
    })
  )
  for (const row of Fs.readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = row.trim().split(/\s+/)
    // local_address, st (0A: LISTEN) and inode
    if (fields[3] === "0A" && inodes.has(fields[9] ?? "")) return Number.parseInt(fields[1]?.split(":")[1] ?? "", 16)
  }
  throw new Error(`process ${pid} listens on no TCP port`)
}

describe("connect against effect-tcp-server", () => {
  it.scopedLive("sends what is typed in GBK and prints the tutorial's reply as UTF-8 text", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer()
      const input = new PassThrough()
      const run = yield* runConnect(["127.0.0.1", String(port), "--wait", "0"], input)
      input.write("你好\n")
      yield* run.waitForStdout(Handler.defaultReply)
      yield* logs.waitFor((line) => line.startsWith("你好 ('127.0.0.1', "))
      input.end()
      const exit = yield* Fiber.join(run.fiber)
      assert.isTrue(Exit.isSuccess(exit), failureMessage(exit))
      assert.deepStrictEqual(run.stdout, [Handler.defaultReply])
      assert.deepStrictEqual(run.stderr, [])
    }))

  it.scopedLive("once the input has ended, exits after --wait seconds without output", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const input = new PassThrough()
      input.end("你好\n")
      const started = Date.now()
      const run = yield* runConnect(["127.0.0.1", String(port), "--wait", "0.4"], input)
      const exit = yield* Fiber.join(run.fiber)
      const elapsed = Date.now() - started
      assert.isTrue(Exit.isSuccess(exit), failureMessage(exit))
      assert.deepStrictEqual(run.stdout, [Handler.defaultReply])
      // The reply comes within milliseconds: the 0.4 s of silence count from then, and the server keeps the
      // connection open, so only the wait ends the run.
      assert.isAtLeast(elapsed, 400)
      assert.isBelow(elapsed, 3000)
    }))

  it.scopedLive("exits 0 when the server closes the connection, even with the input still open", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({
        framing: Framing.line(),
        handler: (connection) => connection.send("再见")
      })
      const input = new PassThrough()
      const run = yield* runConnect(["127.0.0.1", String(port), "--framing", "line"], input)
      const exit = yield* Fiber.join(run.fiber)
      assert.isTrue(Exit.isSuccess(exit), failureMessage(exit))
      assert.deepStrictEqual(run.stdout, ["再见"])
      assert.isTrue(input.destroyed, "standard input is released")
    }))

  it.scopedLive("line framing with UTF-8: one printed line per reply frame", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({
        framing: Framing.line(),
        encoding: "utf8",
        handler: Handler.tutorial({ answer: "echo" })
      })
      const input = new PassThrough()
      const run = yield* runConnect(
        ["127.0.0.1", String(port), "--framing", "line", "-e", "utf8", "--wait", "0"],
        input
      )
      input.write("第一行\n\nthird\n")
      yield* run.waitForStdout("third")
      input.end()
      const exit = yield* Fiber.join(run.fiber)
      assert.isTrue(Exit.isSuccess(exit), failureMessage(exit))
      assert.deepStrictEqual(run.stdout, ["第一行", "", "third"])
    }))

  it.scopedLive("--hex shows the reply's bytes", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const input = new PassThrough()
      const run = yield* runConnect(["127.0.0.1", String(port), "--hex", "--wait", "0"], input)
      input.write("你好\n")
      const expected = gbk(Handler.defaultReply).toString("hex").replace(/(..)(?!$)/g, "$1 ")
      yield* run.waitForStdout(expected)
      input.end()
      assert.isTrue(Exit.isSuccess(yield* Fiber.join(run.fiber)))
    }))

  it.scopedLive("a refused connection fails with one line naming the address", () =>
    Effect.gen(function*() {
      const { close, port } = yield* startServer()
      yield* close
      const run = yield* runConnect(["127.0.0.1", String(port)], new PassThrough())
      const exit = yield* Fiber.join(run.fiber)
      assert.strictEqual(failureMessage(exit), `cannot connect to 127.0.0.1:${port}: connection refused`)
    }))
})

describe("connect against ncat -l: the bytes on the wire", () => {
  const cases: ReadonlyArray<{
    readonly name: string
    readonly args: ReadonlyArray<string>
    readonly wire: Uint8Array
    readonly reply: Uint8Array
    readonly printed: ReadonlyArray<string>
  }> = [
    {
      name: "chunk (default): each line as GBK, without its newline",
      args: [],
      wire: gbk("你好"),
      reply: gbk(Handler.defaultReply),
      printed: [Handler.defaultReply]
    },
    {
      name: "line: LF appended",
      args: ["--framing", "line"],
      wire: gbk("你好\n第二行\n"),
      reply: gbk("回答一\r\n回答二\n"),
      printed: ["回答一", "回答二"]
    },
    {
      name: "delimiter \\x03",
      args: ["--framing", "delimiter", "--delimiter", "\\x03"],
      wire: Buffer.concat([gbk("你好"), Buffer.of(3), gbk("第二行"), Buffer.of(3)]),
      reply: Buffer.concat([gbk("甲"), Buffer.of(3), gbk("乙"), Buffer.of(3)]),
      printed: ["甲", "乙"]
    },
    {
      name: "length, 2-byte prefix",
      args: ["--framing", "length", "--length-bytes", "2"],
      wire: Buffer.concat([Buffer.of(0, 4), gbk("你好"), Buffer.of(0, 6), gbk("第二行")]),
      reply: Buffer.concat([Buffer.of(0, 2), gbk("甲"), Buffer.of(0, 2), gbk("乙")]),
      printed: ["甲", "乙"]
    }
  ]
  for (const { args, name, printed, reply, wire } of cases) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const ncat = yield* startNcat
        const input = new PassThrough()
        const run = yield* runConnect(["127.0.0.1", String(ncat.port), ...args], input)
        // Chunk framing sends one line only: two back to back could arrive as one read.
        input.write(args.length === 0 ? "你好\n" : "你好\n第二行\n")
        const received = yield* ncat.received(wire.length)
        assert.strictEqual(received.toString("hex"), Buffer.from(wire).toString("hex"))
        // ncat shuts the connection down once its input ends: the client exits with its input still open.
        yield* ncat.answer(reply)
        const exit = yield* Fiber.join(run.fiber)
        assert.isTrue(Exit.isSuccess(exit), failureMessage(exit))
        assert.deepStrictEqual(run.stdout, printed)
      }))
  }

  it.scopedLive("a line too long for a 1-byte length prefix fails the run with the Framing error", () =>
    Effect.gen(function*() {
      const ncat = yield* startNcat
      const input = new PassThrough()
      const run = yield* runConnect(
        ["127.0.0.1", String(ncat.port), "--framing", "length", "--length-bytes", "1"],
        input
      )
      input.write(`${"好".repeat(128)}\n`)
      assert.strictEqual(
        failureMessage(yield* Fiber.join(run.fiber)),
        "a 256-byte payload does not fit a 1-byte length prefix, which can announce at most 255 bytes: " +
          "split the payload or use a longer prefix"
      )
    }))
})

describe("connect options", () => {
  const refused = (args: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const run = yield* runConnect(["127.0.0.1", "9", ...args], new PassThrough())
      return failureMessage(yield* Fiber.join(run.fiber))
    })

  it.scopedLive("refuses contradictory, unknown or unsafe settings before connecting", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* refused(["--delimiter", "\\x03"]),
        "--delimiter is only used with --framing delimiter: add --framing delimiter or leave it out"
      )
      assert.strictEqual(
        yield* refused(["--framing", "line", "--length-bytes", "4"]),
        "--length-bytes is only used with --framing length: add --framing length or leave it out"
      )
      assert.match(yield* refused(["--encoding", "gbkk"]), /^unknown encoding "gbkk"/)
      assert.match(yield* refused(["--framing", "delimiter", "--delimiter", "|"]), /0x7C/)
    }))
})

describe("ConnectError", () => {
  it("names the address and the reason in words", () => {
    const cause = (code: string) => Object.assign(new Error(code), { code })
    const error = (host: string, code: string) =>
      new ConnectCli.ConnectError({ reason: "Connect", host, port: 9, cause: cause(code) })
    assert.strictEqual(error("nosuch.invalid", "ENOTFOUND").message, "cannot connect to nosuch.invalid:9: unknown host")
    assert.strictEqual(error("::1", "ECONNREFUSED").message, "cannot connect to [::1]:9: connection refused")
    assert.strictEqual(
      new ConnectCli.ConnectError({ reason: "Lost", host: "127.0.0.1", port: 9, cause: cause("ECONNRESET") }).message,
      "the connection to 127.0.0.1:9 failed: connection reset by the server"
    )
  })
})

describe("connectClient.makeReplyReader", () => {
  it("prints a GBK character split between two reads once, whole", () => {
    const reader = Client.makeReplyReader(Framing.chunk, "gbk", false)
    const bytes = gbk("你好")
    assert.deepStrictEqual(reader.push(bytes.subarray(0, 3)), [{ _tag: "Reply", text: "你" }])
    assert.deepStrictEqual(reader.push(bytes.subarray(3)), [{ _tag: "Reply", text: "好" }])
    assert.deepStrictEqual(reader.end(), [])
  })

  it("notes a frame cut short by the end of the connection", () => {
    const reader = Client.makeReplyReader(Framing.length(2), "gbk", false)
    assert.deepStrictEqual(reader.push(Buffer.of(0, 4, 0xc4, 0xe3)), [])
    assert.deepStrictEqual(reader.end(), [{
      _tag: "Note",
      text: "the connection ended inside a reply frame (4 of 6 bytes received)"
    }])
  })
})

describe("connect as a program", () => {
  /** Runs a bash command line with a timeout; its exit status and output. */
  const sh = (command: string, input = "") =>
    Effect.promise(() =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = ChildProcess.spawn("bash", ["-c", command], { cwd: root, timeout: 15_000 })
        let stdout = ""
        let stderr = ""
        child.stdout.setEncoding("utf8").on("data", (text: string) => stdout += text)
        child.stderr.setEncoding("utf8").on("data", (text: string) => stderr += text)
        child.on("close", (status) => resolve({ status, stdout, stderr }))
        child.stdin.end(input)
      })
    )

  it.scopedLive("in a pseudo-terminal: a typed line is sent, the reply shown decoded, Ctrl-D ends", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* startServer()
      const program = binHasConnect ? "node dist/bin.js connect" : `node ${Path.relative(root, connectBin)}`
      // script(1) runs the client on a pseudo-terminal and forwards what we write to it as typed keys (the
      // terminal echoes them); 0x04 at the start of a line is Ctrl-D, the end of input.
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          ChildProcess.spawn("script", ["-qefc", `${program} 127.0.0.1 ${port} --wait 0.2`, "/dev/null"], {
            cwd: root,
            stdio: ["pipe", "pipe", "pipe"]
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
      )
      let screen = ""
      const wakers = new Set<() => void>()
      child.stdout.setEncoding("utf8").on("data", (text: string) => {
        screen += text.replace(/\r\n/g, "\n")
        for (const wake of [...wakers]) wake()
      })
      const exited = Effect.promise(() => new Promise<number | null>((resolve) => child.once("exit", resolve)))
      const shows = (text: string): Effect.Effect<void> =>
        Effect.suspend(() =>
          screen.includes(text) ? Effect.void : Effect.async<void>((resume) => {
            const wake = () => {
              wakers.delete(wake)
              resume(Effect.void)
            }
            wakers.add(wake)
            return Effect.sync(() => wakers.delete(wake))
          }).pipe(Effect.zipRight(shows(text)))
        )
      yield* shows("type a line and press Enter to send it, Ctrl-D to end\n")
      assert.include(screen, `connected to 127.0.0.1:${port} (encoding gbk, framing chunk)`)
      child.stdin.write("你好\n")
      yield* shows(`你好\n${Handler.defaultReply}\n`)
      yield* logs.waitFor((line) => line.startsWith("你好 ('127.0.0.1', "))
      child.stdin.write("\x04")
      assert.strictEqual(yield* exited, 0)
    }).pipe(Effect.timeout("20 seconds")))

  it.scopedLive.skipIf(!binHasConnect)(
    "the built CLI: a pipe gets the reply; a refused connection exits 1",
    () =>
      Effect.gen(function*() {
        const { port } = yield* startServer()
        const piped = yield* sh(`echo 你好 | node dist/bin.js connect 127.0.0.1 ${port}`)
        assert.deepStrictEqual(piped, { status: 0, stdout: `${Handler.defaultReply}\n`, stderr: "" })
        const closed = yield* startServer()
        yield* closed.close
        const refused = yield* sh(`node dist/bin.js connect 127.0.0.1 ${closed.port} </dev/null`)
        assert.deepStrictEqual(refused, {
          status: 1,
          stdout: "",
          stderr: `effect-tcp-server: cannot connect to 127.0.0.1:${closed.port}: connection refused\n`
        })
      })
  )
})
