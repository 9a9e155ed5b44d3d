// `npm run bench:alternate -- …`: two or more servers (builds, or flags of one build) measured in turns.
//
// On these shared machines a scenario's throughput moves by 30–60 % between runs a minute apart, far more than
// the differences a change makes. Here every server runs at once, idle but one: the load goes to each in turn, in
// short batches (a tenth of a second to a second), order reversed every round, so that whatever slows the
// machine slows them all alike. What is compared is the server's own CPU time per cycle (churn: connect, one
// message, its reply, close) or per reply (pingpong over open connections), read from the kernel's scheduler
// statistics of every thread of the server (/proc/PID/task/*/schedstat, in nanoseconds), and its write system
// calls per cycle or reply (/proc/PID/io). The load is generated here, on CPU 1, with node:net; the servers run
// on CPU 0.
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { collect, hasTaskset, launch, live, type Proc, stopProcess } from "./processes.js"

const usage = `usage: npm run bench:alternate -- [--mode churn|pingpong (churn)] [--rounds N (16)] [--batch N]
                                  [--connections N (churn 16, pingpong 100)] LABEL=COMMAND LABEL=COMMAND …

  COMMAND is a server's command line (split at spaces) that prints "listening on 127.0.0.1:PORT", for example
  before="node OLD/dist/bin.js serve --host 127.0.0.1 --port 0" ours="node dist/bin.js serve --host 127.0.0.1 --port 0"`

interface Settings {
  readonly mode: "churn" | "pingpong"
  readonly rounds: number
  readonly batch: number
  readonly connections: number
  readonly servers: ReadonlyArray<{ readonly label: string; readonly argv: ReadonlyArray<string> }>
}

const parse = (args: ReadonlyArray<string>): Settings | string => {
  let mode: Settings["mode"] = "churn"
  let rounds = 16
  let batch: number | undefined
  let connections: number | undefined
  const servers: Array<Settings["servers"][number]> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    const value = () => args[++i] ?? ""
    const count = (name: string) => {
      const n = Number(value())
      return Number.isInteger(n) && n > 0 ? n : `${name} takes a positive whole number`
    }
    if (arg === "--mode") {
      const m = value()
      if (m !== "churn" && m !== "pingpong") return `--mode is churn or pingpong, not ${m}`
      mode = m
    } else if (arg === "--rounds" || arg === "--batch" || arg === "--connections") {
      const n = count(arg)
      if (typeof n === "string") return n
      if (arg === "--rounds") rounds = n
      else if (arg === "--batch") batch = n
      else connections = n
    } else if (/^[\w.-]+=/.test(arg)) {
      const at = arg.indexOf("=")
      const argv = arg.slice(at + 1).split(" ").filter((part) => part !== "")
      if (argv.length === 0) return `${arg}: no command`
      servers.push({ label: arg.slice(0, at), argv })
    } else {
      return `unknown argument ${arg}`
    }
  }
  if (servers.length < 2) return "give at least two servers to compare"
  return {
    mode,
    rounds,
    batch: batch ?? (mode === "churn" ? 1000 : 5000),
    connections: connections ?? (mode === "churn" ? 16 : 100),
    servers
  }
}

/** CPU time of every thread of a process so far, in nanoseconds. */
const cpuNs = (pid: number): number => {
  let total = 0
  for (const task of Fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(Fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0])
    } catch {
      // The thread ended meanwhile.
    }
  }
  return total
}

const writeCalls = (pid: number): number =>
  Number(/syscw: (\d+)/.exec(Fs.readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? Number.NaN)

// 你好 in GBK, as the tutorial's clients send.
const message = Buffer.from([0xc4, 0xe3, 0xba, 0xc3])

/** One churn cycle: connect, send, wait for the reply, close. False when the connection failed. */
const cycle = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    let ok = false
    socket.on("error", () => resolve(false))
    socket.on("connect", () => socket.write(message))
    socket.once("data", () => {
      ok = true
      socket.end()
    })
    socket.on("close", () => resolve(ok))
  })

interface Target {
  readonly label: string
  readonly proc: Proc
  readonly port: number
  readonly sockets: ReadonlyArray<Net.Socket>
  cpu: Array<number>
  writes: number
  done: number
  failed: number
  wallMs: number
}

const churn = async (target: Target, count: number, workers: number) => {
  let left = count
  const worker = async () => {
    while (left-- > 0) if (!(await cycle(target.port))) target.failed++
  }
  await Promise.all(Array.from({ length: workers }, worker))
}

const pingpong = (target: Target, count: number) =>
  new Promise<void>((resolve) => {
    let budget = count
    let active = target.sockets.length
    for (const socket of target.sockets) {
      const onData = () => {
        if (budget-- > 0) socket.write(message)
        else {
          socket.off("data", onData)
          if (--active === 0) resolve()
        }
      }
      socket.on("data", onData)
      budget--
      socket.write(message)
    }
  })

const open = (port: number, count: number): Promise<Array<Net.Socket>> =>
  Promise.all(Array.from({ length: count }, () =>
    new Promise<Net.Socket>((resolve, reject) => {
      const socket = Net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(socket))
      socket.once("error", reject)
    })))

const start = async (label: string, argv: ReadonlyArray<string>): Promise<{ proc: Proc; port: number }> => {
  const proc = launch(argv, 0, ["ignore", "pipe", "pipe"])
  const out = collect(proc.child.stdout)
  const err = collect(proc.child.stderr)
  const deadline = performance.now() + 15_000
  while (performance.now() < deadline) {
    const port = /listening on 127\.0\.0\.1:(\d+)/.exec(`${out.text}\n${err.text}`)?.[1]
    if (port !== undefined) return { proc, port: Number(port) }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${label} printed no "listening on 127.0.0.1:PORT" within 15 s: ${err.text.trim()}`)
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

const main = async () => {
  const settings = parse(process.argv.slice(2))
  if (typeof settings === "string") {
    console.error(`${settings}\n\n${usage}`)
    process.exitCode = 2
    return
  }
  // The load is generated by this process: on CPU 1, the servers on CPU 0.
  if (hasTaskset) spawnSync("taskset", ["-pc", "1", String(process.pid)], { stdio: "ignore" })
  const targets: Array<Target> = []
  try {
    for (const { argv, label } of settings.servers) {
      const { port, proc } = await start(label, argv)
      const sockets = settings.mode === "pingpong" ? await open(port, settings.connections) : []
      targets.push({ label, proc, port, sockets, cpu: [], writes: 0, done: 0, failed: 0, wallMs: 0 })
    }
    const run = (target: Target, count: number) =>
      settings.mode === "churn" ? churn(target, count, settings.connections) : pingpong(target, count)
    // Warm-up: the JIT, and the first connections of each server.
    for (const target of targets) await run(target, 2 * settings.batch)
    for (let round = 0; round < settings.rounds; round++) {
      for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        const pid = target.proc.pid
        const w0 = writeCalls(pid)
        const c0 = cpuNs(pid)
        const t0 = performance.now()
        await run(target, settings.batch)
        const c1 = cpuNs(pid)
        target.wallMs += performance.now() - t0
        target.writes += writeCalls(pid) - w0
        target.cpu.push((c1 - c0) / settings.batch / 1000)
        target.done += settings.batch
      }
    }
    const unit = settings.mode === "churn" ? "cycle" : "reply"
    const units = settings.mode === "churn" ? "cycles" : "replies"
    const first = targets[0]
    console.log(
      `${settings.mode}, ${settings.connections} ${settings.mode === "churn" ? "workers" : "connections"}, ` +
        `${settings.rounds} rounds of ${settings.batch} per server, in turns\n`
    )
    console.log(
      `| server | CPU µs per ${unit}: median (min–max) | × ${first?.label} | ${units}/s | writes per ${unit} | failed |`
    )
    console.log("| --- | --- | --- | --- | --- | --- |")
    for (const t of targets) {
      const ratio = first === undefined ? 1 : median(t.cpu) / median(first.cpu)
      console.log(
        `| ${t.label} | ${median(t.cpu).toFixed(1)} (${Math.min(...t.cpu).toFixed(1)}–${
          Math.max(...t.cpu).toFixed(1)
        }) | ${ratio.toFixed(3)} | ${Math.round(t.done / t.wallMs * 1000)} | ${
          (t.writes / t.done).toFixed(2)
        } | ${t.failed} |`
      )
    }
  } finally {
    for (const target of targets) for (const socket of target.sockets) socket.destroy()
    await Promise.all(targets.map((target) => stopProcess(target.proc)))
    for (const child of live) child.kill("SIGKILL")
  }
}

await main()
