/**
 * Imported first by `bin.ts`, for its effect alone: from here on, SIGUSR1 does not open Node's inspector
 * (which would let any local user run code as this process). On Node 20, any listener for SIGUSR1 replaces the
 * inspector's; `--disable-sigusr1` exists only in later versions. This module imports nothing, so it runs before
 * the rest of the program is evaluated; `serve` adds its own listener, which prints a stats line.
 *
 * @since 0.1.0
 */
process.on("SIGUSR1", () => {})
