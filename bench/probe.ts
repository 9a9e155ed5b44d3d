// Preloaded into every Node server that bench/run.ts starts (`node --expose-gc --import dist-bench/probe.js …`),
// so that their memory can be read from outside without changing them: on SIGUSR2 it runs a full garbage
// collection and writes `process.memoryUsage()` as JSON to the file named by BENCH_PROBE_FILE.
import * as Fs from "node:fs"

const file = process.env["BENCH_PROBE_FILE"]
if (file !== undefined) {
  process.on("SIGUSR2", () => {
    globalThis.gc?.()
    const usage = process.memoryUsage()
    // Written whole under another name, then renamed: the reader never sees half a file.
    Fs.writeFileSync(`${file}.tmp`, JSON.stringify(usage))
    Fs.renameSync(`${file}.tmp`, file)
  })
}
