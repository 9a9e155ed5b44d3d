// The servers bench/run.ts compares, each started in a fresh process pinned to CPU 0 with its standard output in
// a file, and measured from outside: idle RSS and descriptors from /proc, the V8 heap through bench/probe.ts.
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { collect, descriptors, launch, listening, poke, root, sleep, statusKb, stopProcess } from "./processes.js"
import type { Collected, Exit, Proc } from "./processes.js"

/**
 * "feature": ours with the flags of the scenario's feature (see `Scenario.feature`), only in those scenarios.
 * "before": another build of this server (`--before BIN.js`), to compare two commits in the same run.
 */
export type Kind = "ours" | "before" | "floor" | "plain" | "tutorial" | "feature"

export const kinds: ReadonlyArray<Kind> = ["ours", "before", "floor", "plain", "tutorial", "feature"]

/** The servers a scenario runs by default: a feature's scenario compares ours with and without it. */
export const comparedKinds: ReadonlyArray<Kind> = ["ours", "floor", "plain", "tutorial"]

export const labels: Readonly<Record<Kind, string>> = {
  ours: "effect-tcp-server",
  before: "effect-tcp-server, the other build (--before)",
  feature: "effect-tcp-server with the feature",
  floor: "floor (Effect, no guarantees)",
  plain: "plain node:net",
  tutorial: "the tutorial (Python)"
}

export const isKind = (value: string): value is Kind => kinds.some((kind) => kind === value)

export interface Memory {
  /** V8 heap in use after a full garbage collection, in kB; undefined for the Python server. */
  readonly heapKb: number | undefined
  readonly rssKb: number | undefined
  readonly fds: number | undefined
}

export interface Server extends Proc {
  readonly kind: Kind
  /** Its standard output. */
  readonly file: string
  readonly stderr: Collected
  readonly port: number
  readonly probeFile: string | undefined
  /** Half a second after it started listening. */
  readonly idle: Memory
}

const probeModule = Path.join(root, "dist-bench", "probe.js")

/**
 * The Python interpreter itself: `python3` may be a wrapper (pyenv's shim) that would stand between the PID
 * measured here and the server.
 */
const python = (() => {
  try {
    return execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim()
  } catch {
    return "python3"
  }
})()
const node = (script: string) => ["node", "--expose-gc", "--import", probeModule, script]

/**
 * How each server is started. Ours runs with its default flags (backlog included), plus `--quiet` unless the
 * scenario logs; the floor and the plain server log with `--log`/without `--quiet` the same lines. The tutorial
 * always prints its lines (to a file here), as it was written.
 */
const command = (
  kind: Kind,
  log: boolean,
  builds: Builds,
  port: number,
  feature: ReadonlyArray<string>
): Array<string> => {
  const ours = builds.ours
  switch (kind) {
    case "before":
      return [
        ...node(builds.before ?? ours),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        ...(log ? [] : ["--quiet"])
      ]
    case "ours":
      return [...node(ours), "serve", "--host", "127.0.0.1", "--port", "0", ...(log ? [] : ["--quiet"])]
    case "feature":
      return [...node(ours), "serve", "--host", "127.0.0.1", "--port", "0", ...(log ? [] : ["--quiet"]), ...feature]
    case "floor":
      return [...node("dist-bench/floor-server.js"), "--host", "127.0.0.1", "--port", "0", ...(log ? [] : ["--quiet"])]
    case "plain":
      return [...node("dist-bench/plain-server.js"), "--port", "0", ...(log ? ["--log"] : [])]
    case "tutorial":
      return [python, "bench/tutorial_server.py", String(port), "127.0.0.1"]
  }
}

/** The built CLIs: `dist/bin.js` (or `--ours`), and the one compared with it (`--before`). */
export interface Builds {
  readonly ours: string
  readonly before: string | undefined
}

/** A port that was free a moment ago (for the Python server, which cannot report the one it got). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

interface Usage {
  readonly heapUsed: number
  readonly rss: number
}

const isUsage = (value: unknown): value is Usage =>
  typeof value === "object" && value !== null && "heapUsed" in value && typeof value.heapUsed === "number" &&
  "rss" in value && typeof value.rss === "number"

/** Asks bench/probe.ts in the server for a full GC and `process.memoryUsage()`; undefined without a probe. */
export const probe = async (server: Server): Promise<Usage | undefined> => {
  if (server.probeFile === undefined) return undefined
  Fs.rmSync(server.probeFile, { force: true })
  if (!poke(server.pid)) return undefined
  for (let i = 0; i < 250; i++) {
    await sleep(20)
    if (Fs.existsSync(server.probeFile)) {
      const usage: unknown = JSON.parse(Fs.readFileSync(server.probeFile, "utf8"))
      return isUsage(usage) ? usage : undefined
    }
  }
  return undefined
}

let started = 0

export const startServer = async (
  tmp: string,
  kind: Kind,
  log: boolean,
  builds: Builds,
  feature: ReadonlyArray<string> = []
): Promise<Server> => {
  const n = ++started
  const file = Path.join(tmp, `${kind}-${n}.out`)
  const probeFile = kind === "tutorial" ? undefined : Path.join(tmp, `${kind}-${n}.memory.json`)
  const fixedPort = kind === "tutorial" ? await freePort() : 0
  const fd = Fs.openSync(file, "w")
  const env = probeFile === undefined ? process.env : { ...process.env, BENCH_PROBE_FILE: probeFile }
  const proc = launch(command(kind, log, builds, fixedPort, feature), 0, ["ignore", fd, "pipe"], env)
  Fs.closeSync(fd)
  const stderr = collect(proc.child.stderr)
  let exited: Exit | undefined
  void proc.exited.then((exit) => (exited = exit))
  const deadline = performance.now() + 15_000
  for (;;) {
    const port = kind === "tutorial"
      ? (listening(fixedPort) ? fixedPort : undefined)
      // With --log-format json or logfmt, ours prints its start line on stderr.
      : Number(
        /listening on 127\.0\.0\.1:(\d+)/.exec(`${Fs.readFileSync(file, "utf8").slice(0, 500)}\n${stderr.text}`)?.[1] ??
          Number.NaN
      )
    if (port !== undefined && !Number.isNaN(port)) {
      await sleep(500)
      const server: Server = {
        ...proc,
        kind,
        file,
        stderr,
        port,
        probeFile,
        idle: { heapKb: undefined, rssKb: statusKb(proc.pid, "VmRSS"), fds: descriptors(proc.pid) }
      }
      const usage = await probe(server)
      return { ...server, idle: { ...server.idle, heapKb: usage === undefined ? undefined : usage.heapUsed / 1024 } }
    }
    if (exited !== undefined) {
      throw new Error(`${kind} server exited (${exited.code ?? exited.signal}) before listening: ${stderr.text}`)
    }
    if (performance.now() > deadline) {
      await stopProcess(proc)
      throw new Error(`${kind} server did not listen within 15 s: ${stderr.text}`)
    }
    await sleep(50)
  }
}
