// Rewrites the serve flag tables of README.md and README.zh-CN.md from the CLI's own flag table
// (src/cli/options.ts), as built in dist/: run `npm run build && node scripts/flag-tables.mjs`.
// With --check, changes nothing and exits 1 if a table differs (test/CliDocs.test.ts checks the same).
import * as Console from "node:console"
import * as Fs from "node:fs"
import Process from "node:process"
import * as Url from "node:url"
import * as Help from "../dist/cli/help.js"

const check = Process.argv.includes("--check")
let differ = false
for (const [file, language] of [["README.md", "en"], ["README.zh-CN.md", "zh"]]) {
  const path = new Url.URL(`../${file}`, import.meta.url)
  const text = Fs.readFileSync(path, "utf8")
  if (!text.includes(Help.tableStart) || !text.includes(Help.tableEnd)) {
    Console.error(`${file}: no flag table markers (${Help.tableStart} … ${Help.tableEnd})`)
    differ = true
    continue
  }
  const next = Help.updateReadme(text, language)
  if (next === text) continue
  differ = true
  if (check) {
    Console.error(`${file}: the flag table differs from src/cli/options.ts`)
  } else {
    Fs.writeFileSync(path, next)
    Console.log(`${file}: flag table updated`)
  }
}
Process.exitCode = check && differ ? 1 : 0
