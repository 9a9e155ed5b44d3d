// The package as users get it: `npm start`, a packed tarball installed with the README's command, the same
// tarball without any peer dependency (the bundled CLI), and an install from git. Uses the npm registry (through
// npm's cache where it can) and the built dist/ (`npm test` builds first). Linux only: it reads /proc.
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Readable } from "node:stream"
import { Handler } from "../src/index.js"
import { connect } from "./utils/Client.js"
import { gbk, replyBytes } from "./utils/Server.js"

const root = Path.join(import.meta.dirname, "..")
const packageJson: {
  readonly version: string
  readonly peerDependencies: Record<string, string>
  readonly peerDependenciesMeta: Record<string, { readonly optional?: boolean }>
} = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))

// Without the variables `npm test` sets, a nested npm acts as if started by hand in its own directory.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)))
const npmFlags = ["--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]

/** Runs a command to its end, with its stdout; fails with its output if it exits non-zero or outlives `timeout`. */
const run = (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  timeout: Duration.DurationInput = "3 minutes"
): Effect.Effect<string, Error> =>
  Effect.async<string, Error>((resume) => {
    const child = ChildProcess.spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let all = ""
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      out += text
      all += text
    })
    child.stderr.setEncoding("utf8").on("data", (text: string) => (all += text))
    child.once("error", (error) => resume(Effect.fail(error)))
    child.once("close", (code, signal) =>
      resume(
        code === 0
          ? Effect.succeed(out)
          : Effect.fail(new Error(`${command} ${args.join(" ")} (in ${cwd}) exited with ${code ?? signal}:\n${all}`))
      ))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`${command} ${args.join(" ")} took more than ${Duration.format(timeout)}`)
    })
  )

/** A directory of its own under the system's temporary directory, removed with the scope. */
const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), `effect-tcp-server-${prefix}-`))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** A scratch npm project (ESM) with nothing installed yet. */
const scratchProject = (prefix: string) =>
  Effect.tap(tempDir(prefix), (dir) =>
    Effect.sync(() =>
      Fs.writeFileSync(
        Path.join(dir, "package.json"),
        JSON.stringify({ name: `scratch-${prefix}`, version: "1.0.0", private: true, type: "module" })
      )
    ))

interface Server {
  readonly pid: number
  readonly port: number
  readonly stdout: () => string
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/**
 * Starts a long-running command that prints the server's "listening on 127.0.0.1:PORT" line, and waits for that
 * line (at most `timeout`). The process is killed when the scope closes if it is still running.
 */
const startServer = (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  timeout: Duration.DurationInput = "30 seconds"
): Effect.Effect<Server, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => ChildProcess.spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] })),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  ).pipe(Effect.flatMap((child: ChildProcess.ChildProcessByStdio<null, Readable, Readable>) => {
    let out = ""
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal }))
    )
    const listening = Effect.async<number, Error>((resume) => {
      const onData = (text: string) => {
        out += text
        const match = out.match(/listening on 127\.0\.0\.1:(\d+)/)
        if (match !== null) {
          child.stdout.off("data", onData)
          resume(Effect.succeed(Number(match[1])))
        }
      }
      child.stdout.setEncoding("utf8").on("data", onData)
      child.stderr.setEncoding("utf8").on("data", (text: string) => (out += text))
      void exit.then(({ code, signal }) =>
        resume(
          Effect.fail(new Error(`${command} ${args.join(" ")} exited (${code ?? signal}) before listening:\n${out}`))
        )
      )
    }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new Error(`${command} ${args.join(" ")} printed no "listening on" line:\n${out}`)
      })
    )
    return Effect.map(listening, (port): Server => ({
      pid: child.pid ?? 0,
      port,
      stdout: () => out,
      exited: Effect.promise(() => exit)
    }))
  }))

/** Sends a GBK message and checks the tutorial's reply. */
const assertServes = (port: number) =>
  Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write(gbk("你好"))
    assert.deepStrictEqual(yield* client.read(replyBytes.length), replyBytes)
    yield* client.end
  }).pipe(Effect.scoped)

/** Whether a process with this id exists (a zombie counts: it would be its parent's to reap). */
const alive = (pid: number) => Fs.existsSync(`/proc/${pid}`)

/** The ids of a process's descendants (children first). */
const descendants = (pid: number): ReadonlyArray<number> => {
  const file = `/proc/${pid}/task/${pid}/children`
  if (!Fs.existsSync(file)) return []
  const children = Fs.readFileSync(file, "utf8").split(" ").filter((s) => s.trim() !== "").map(Number)
  return children.flatMap((child) => [child, ...descendants(child)])
}

/** Kills, when the scope closes, whichever of these processes is still running. */
const killLeftovers = (pids: ReadonlyArray<number>) =>
  Effect.addFinalizer(() => Effect.sync(() => pids.filter(alive).forEach((pid) => process.kill(pid, "SIGKILL"))))

/** Whether something accepts connections on 127.0.0.1:port. */
const accepting = (port: number) =>
  Effect.match(Effect.scoped(connect(port)), { onFailure: () => false, onSuccess: () => true })

describe("npm start", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.scopedLive(
      `runs the built CLI; ${signal} to npm stops the server and npm exits 0`,
      () =>
        Effect.gen(function*() {
          const npm = yield* startServer("npm", ["start", "--", "--host", "127.0.0.1", "--port", "0"], root)
          // No rebuild: the script runs dist/bin.js as it is.
          assert.notInclude(npm.stdout(), "npm run build")
          const tree = descendants(npm.pid)
          yield* killLeftovers(tree)
          yield* assertServes(npm.port)

          process.kill(npm.pid, signal)
          assert.deepStrictEqual(yield* Effect.timeout(npm.exited, "15 seconds"), { code: 0, signal: null })
          assert.deepStrictEqual(tree.filter(alive), [], "no process started by npm is left")
          assert.isFalse(yield* accepting(npm.port), "nothing listens on the port any more")
        }),
      60_000
    )
  }
})

/** One `npm pack` of the working tree, shared by the tests below. */
class Packed extends Context.Tag("test/Packed")<Packed, { readonly tarball: string }>() {
  static readonly layer = Layer.scoped(
    Packed,
    Effect.gen(function*() {
      const dir = yield* tempDir("pack")
      // The build is `npm test`'s: running `prepare` here would rebuild dist/ under the other test files' feet.
      const output = yield* run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], root)
      const [report]: ReadonlyArray<{ readonly filename: string; readonly files: ReadonlyArray<{ path: string }> }> =
        JSON.parse(output)
      const files = report.files.map((file) => file.path)
      for (const file of ["dist/bin.js", "dist/index.js", "dist/index.d.ts", "dist/TcpServer.js", "package.json"]) {
        if (!files.includes(file)) return yield* Effect.fail(new Error(`the tarball lacks ${file}`))
      }
      return { tarball: Path.join(dir, report.filename) }
    })
  )
}

// A library user's program: the tutorial's server on port 0, one GBK client, then what else it can import.
const libraryProgram = `import * as Effect from "effect/Effect"
import * as Net from "node:net"

// With @effect/cli not installed, this import fails if the root entry loads it.
const { TcpServer } = await import("effect-tcp-server").catch((error) => {
  console.log(JSON.stringify({ rootEntry: error.message }))
  process.exit(0)
})

const ask = (port) => new Promise((resolve, reject) => {
  const socket = Net.connect({ host: "127.0.0.1", port }, () => socket.end(Buffer.from([0xc4, 0xe3, 0xba, 0xc3])))
  const chunks = []
  socket.on("data", (chunk) => chunks.push(chunk))
  socket.on("error", reject)
  socket.on("close", () => resolve(new TextDecoder("gbk").decode(Buffer.concat(chunks))))
})

const reply = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const server = yield* TcpServer.make({ host: "127.0.0.1", port: 0 })
  return yield* Effect.promise(() => ask(server.address.port))
})))
const result = { rootEntry: "loaded", reply }
for (const specifier of ["effect-tcp-server/internal/listener", "effect-tcp-server/bin", "effect-tcp-server/dist/index.js"]) {
  result[specifier] = await import(specifier).then(() => "importable", (error) => error.code)
}
console.log(JSON.stringify(result))
`

layer(Packed.layer, { timeout: "3 minutes", excludeTestServices: true })("the packed tarball", (it) => {
  it.scoped(
    "installed with the README's command, the library serves without loading @effect/cli",
    () =>
      Effect.gen(function*() {
        const { tarball } = yield* Packed
        const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
        const command = readme.match(/^npm install effect-tcp-server( [^\n]*)?$/m)?.[0]
        assert.isDefined(command, "the README has an `npm install effect-tcp-server …` line")
        // Every required peer with the range package.json asks for; @effect/cli is optional and not asked for.
        for (const [name, range] of Object.entries(packageJson.peerDependencies)) {
          const said = command.match(new RegExp(`(?:^| )${name}@\\^(\\d+\\.\\d+)(?: |$)`))?.[1]
          if (packageJson.peerDependenciesMeta[name]?.optional === true) {
            assert.isUndefined(said, `the README's command installs the optional peer ${name}`)
          } else {
            assert.isTrue(said !== undefined && range.startsWith(`^${said}.`), `the README installs ${name}@${range}`)
          }
        }

        const project = yield* scratchProject("library")
        const [npm, ...args] = command.split(" ").map((word) => word === "effect-tcp-server" ? tarball : word)
        yield* run(npm, [...args, ...npmFlags], project)
        assert.isFalse(Fs.existsSync(Path.join(project, "node_modules", "@effect", "cli")), "@effect/cli not installed")

        Fs.writeFileSync(Path.join(project, "main.mjs"), libraryProgram)
        const output = yield* run("node", ["main.mjs"], project, "30 seconds")
        assert.deepStrictEqual(JSON.parse(output.trim().split("\n").at(-1) ?? ""), {
          rootEntry: "loaded",
          reply: Handler.defaultReply,
          "effect-tcp-server/internal/listener": "ERR_PACKAGE_PATH_NOT_EXPORTED",
          "effect-tcp-server/bin": "ERR_PACKAGE_PATH_NOT_EXPORTED",
          "effect-tcp-server/dist/index.js": "ERR_PACKAGE_PATH_NOT_EXPORTED"
        })
      }),
    180_000
  )

  it.scoped("installed without its peer dependencies, the bundled CLI runs", () =>
    Effect.gen(function*() {
      const { tarball } = yield* Packed
      const project = yield* scratchProject("cli")
      yield* run("npm", ["install", tarball, "--omit=peer", ...npmFlags], project)
      for (const peer of Object.keys(packageJson.peerDependencies)) {
        assert.isFalse(Fs.existsSync(Path.join(project, "node_modules", peer)), `${peer} is not installed`)
      }
      const version = yield* run("npx", ["--no-install", "effect-tcp-server", "--version"], project, "30 seconds")
      assert.strictEqual(version.trim(), packageJson.version)

      const bin = Path.join(project, "node_modules", ".bin", "effect-tcp-server")
      const server = yield* startServer(bin, ["serve", "--host", "127.0.0.1", "--port", "0"], project)
      yield* assertServes(server.port)
      process.kill(server.pid, "SIGTERM")
      assert.deepStrictEqual(yield* server.exited, { code: 0, signal: null })
    }), 180_000)
})

describe("installing from git", () => {
  it.scopedLive("builds dist/ (the `prepare` script) from the committed HEAD", () =>
    Effect.gen(function*() {
      // Only committed files take part: a clone of HEAD, as `npm install github:…` would fetch.
      const head = (yield* run("git", ["rev-parse", "HEAD"], root)).trim()
      const project = yield* scratchProject("git")
      yield* run("npm", ["install", `git+file://${root}#${head}`, "--omit=peer", ...npmFlags], project, "5 minutes")
      const installed = Path.join(project, "node_modules", "effect-tcp-server")
      for (const file of ["dist/bin.js", "dist/index.js", "dist/index.d.ts"]) {
        assert.isTrue(Fs.existsSync(Path.join(installed, file)), `the git install has ${file}`)
      }
      const version = yield* run("npx", ["--no-install", "effect-tcp-server", "--version"], project, "30 seconds")
      assert.strictEqual(version.trim(), packageJson.version)
    }), 300_000)
})
