// `npm run build`: the library as plain ESM modules in dist/ (tsc), then the CLI as one self-contained file.
//
// The CLI (src/bin.ts) is bundled with esbuild into dist/bin.js, the file package.json's `bin` points to,
// overwriting tsc's output: it starts in a third of the time and two thirds of the memory of the ~700 modules
// it gathers, and it runs without the peer dependencies, which the library keeps (applications hold one copy of
// `effect`).
// Stack traces map to src/ with `node --enable-source-maps` (dist/bin.js.map); not on by default, as loading
// the map costs about 30 MB and 0.3 s at every start.
import * as esbuild from "esbuild"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import * as Process from "node:process"

const root = Path.join(import.meta.dirname, "..")
const dist = Path.join(root, "dist")

// A stale module from an earlier build must not be packed.
Fs.rmSync(dist, { recursive: true, force: true })

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
const compiled = ChildProcess.spawnSync(Process.execPath, [tsc, "-p", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit"
})
if (compiled.status !== 0) Process.exit(compiled.status ?? 1)

await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["src/bin.ts"],
  outfile: "dist/bin.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Whitespace and syntax only: function names stay readable in stack traces (renaming saves no memory here).
  minifyWhitespace: true,
  minifySyntax: true,
  // Enough for stack traces; the sources are in the package's src/.
  sourcemap: true,
  sourcesContent: false,
  // iconv-lite and a few others are CommonJS and `require` Node's built-in modules.
  banner: {
    js:
      "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})
// tsc's declarations for the entry point describe a module that no longer exists.
for (const file of ["bin.d.ts", "bin.d.ts.map"]) Fs.rmSync(Path.join(dist, file), { force: true })
