/**
 * The README's shell commands, run as written against the built server.
 *
 * A `sh` block marked `<!-- run -->` is a client session: an optional first line `npm start [-- ARGS]` says how
 * the server is started (without it, `npm start` of the set-up), the rest is run with `bash` as one script, and
 * the `text` block that follows is its exact standard output. Two substitutions, the only ones: the server is
 * started as `npm start` would start it (package.json's `start` script: `node dist/bin.js serve`, without the
 * rebuild of `prestart`) with `--host 127.0.0.1 --port 0` added, and `9090` in the client commands becomes the
 * port it printed. The clients need the programs the README names (python3, ncat, iconv).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.join(import.meta.dirname, "..")
const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
const startScript: unknown = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")).scripts?.start

interface Block {
  readonly marked: boolean
  readonly lang: string
  readonly body: string
}

const blocks: ReadonlyArray<Block> = [...readme.matchAll(/(<!-- run -->\n)?```(\w*)\n([\s\S]*?)```/g)].map((m) => ({
  marked: m[1] !== undefined,
  lang: m[2] ?? "",
  body: m[3] ?? ""
}))

interface Session {
  readonly serverArgs: string
  readonly client: string
  readonly output: string
}

const sessions: ReadonlyArray<Session> = blocks.flatMap((block, i) => {
  if (!block.marked) return []
  const next = blocks[i + 1]
  if (block.lang !== "sh" || next?.lang !== "text") {
    throw new Error(`a block marked <!-- run --> must be a sh block followed by a text block:\n${block.body}`)
  }
  const [first = "", ...rest] = block.body.split("\n")
  const start = /^npm start(?: -- (.*))?$/.exec(first)
  return [{
    serverArgs: start === null ? "" : start[1] ?? "",
    client: start === null ? block.body : rest.join("\n"),
    output: next.body
  }]
})

// Whether dist/bin.js has the connect command (its help then describes connect's own --wait flag).
const binHasConnect =
  (ChildProcess.spawnSync(process.execPath, [Path.join(root, "dist", "bin.js"), "connect", "--help"], {
    cwd: root,
    encoding: "utf8"
  }).stdout ?? "").includes("--wait")

interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

const waitForExit = (child: ChildProcess.ChildProcess) =>
  new Promise<Result>((resolve) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.setEncoding("utf8").on("data", (text: string) => stdout += text)
    child.stderr?.setEncoding("utf8").on("data", (text: string) => stderr += text)
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

const clientTimeout = 45_000

/**
 * Runs a client script in a process group of its own, killed whole after {@link clientTimeout} (a client that
 * hangs, such as OpenBSD nc without -N, would otherwise keep the pipes open after bash is gone).
 */
const runClient = (script: string) =>
  Effect.acquireRelease(
    Effect.sync(() => ChildProcess.spawn("bash", ["-c", script], { cwd: root, detached: true })),
    (child) => Effect.sync(() => killGroup(child))
  ).pipe(Effect.flatMap((child) =>
    Effect.promise(() => waitForExit(child)).pipe(
      Effect.timeoutTo({
        duration: clientTimeout,
        onSuccess: (result) => result,
        onTimeout: (): Result => ({ status: null, stdout: "", stderr: `timed out after ${clientTimeout} ms` })
      })
    )
  ))

const killGroup = (child: ChildProcess.ChildProcess) => {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
  } catch (error) {
    // ESRCH: every process of the group has already exited.
    if (!(error instanceof Error && "code" in error && error.code === "ESRCH")) throw error
  }
}

/** Starts the server as `npm start -- ARGS` would, on 127.0.0.1 and a free port; killed with the scope. */
const startServer = (args: string) =>
  Effect.gen(function*() {
    assert.match(String(startScript), /^node /, "package.json's start script runs node")
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn("bash", ["-c", `exec ${String(startScript)} ${args} --host 127.0.0.1 --port 0`], {
          cwd: root,
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
    )
    let out = ""
    const exited = waitForExit(child)
    return yield* Effect.async<number, Error>((resume) => {
      const onData = (text: string) => {
        out += text
        const match = /listening on \S+:(\d+)/.exec(out)
        if (match?.[1] !== undefined) resume(Effect.succeed(Number(match[1])))
      }
      child.stdout.setEncoding("utf8").on("data", onData)
      void exited.then((result) => resume(Effect.fail(new Error(`the server exited: ${result.stderr}`))))
      return Effect.sync(() => child.stdout.off("data", onData))
    })
  })

describe("README commands", () => {
  it("marks every sh block that talks to a server on port 9090 (the benchmark's aside)", () => {
    const unmarked = blocks.filter((block) =>
      block.lang === "sh" && !block.marked && /127\.0\.0\.1.*9090/.test(block.body) && !/ bench /.test(block.body)
    )
    assert.deepStrictEqual(unmarked.map((block) => block.body), [])
    assert.isAtLeast(sessions.length, 6)
  })

  for (const session of sessions) {
    const name = `npm start${session.serverArgs === "" ? "" : ` -- ${session.serverArgs}`}: ${
      session.client.split("\n")[0]?.slice(0, 70)
    }`
    const needsConnect = session.client.includes("effect-tcp-server connect")
    it.scopedLive.skipIf(needsConnect && !binHasConnect)(name, () =>
      Effect.gen(function*() {
        const port = yield* startServer(session.serverArgs)
        const script = `set -eo pipefail\n${session.client.replaceAll("9090", String(port))}`
        const result = yield* runClient(script)
        assert.strictEqual(result.status, 0, `exit status of:\n${script}\nstderr:\n${result.stderr}`)
        assert.strictEqual(result.stdout, session.output, `stderr:\n${result.stderr}`)
      }), 90_000)
  }
})
