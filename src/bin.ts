#!/usr/bin/env node
// The `effect-tcp-server` executable.
//
// Node.js answers SIGUSR1 by opening its inspector on 127.0.0.1:9229, which lets any local user run code as this
// process. On Node 20 any listener for SIGUSR1 replaces the inspector's (`--disable-sigusr1` exists only in later
// versions), so one is installed first of all, and the program is loaded after it: a static import would load
// (and evaluate) every module before this line runs, which takes most of a second. `serve` adds a listener that
// prints a stats line.
process.on("SIGUSR1", () => {})
const { main } = await import("./cli/main.js")
main(new URL("../package.json", import.meta.url))
