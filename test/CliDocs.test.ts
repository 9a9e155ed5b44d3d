import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Help from "../src/cli/help.js"
import * as Flags from "../src/cli/options.js"

const root = Path.join(import.meta.dirname, "..")
const read = (file: string) => Fs.readFileSync(Path.join(root, file), "utf8")
const readmes = [["README.md", "en"], ["README.zh-CN.md", "zh"]] as const

describe("README flag tables", () => {
  for (const [file, language] of readmes) {
    it(`${file} has the flag table made from src/cli/options.ts`, () => {
      const text = read(file)
      assert.include(text, Help.tableStart, `${file} has the start marker`)
      assert.include(text, Help.tableEnd, `${file} has the end marker`)
      assert.strictEqual(
        text,
        Help.updateReadme(text, language),
        `${file}'s flag table differs from the definitions: run npm run build && node scripts/flag-tables.mjs`
      )
      for (const flag of Flags.serveFlags) assert.include(text, `| \`--${flag.name}`, `${file} lists --${flag.name}`)
    })
  }

  it("each README links to the other at the top", () => {
    assert.include(read("README.md").split("\n").slice(0, 5).join("\n"), "(README.zh-CN.md)")
    assert.include(read("README.zh-CN.md").split("\n").slice(0, 5).join("\n"), "(README.md)")
  })

  it("the Chinese README has the quick start, the CLI reference and the four framing modes", () => {
    const text = read("README.zh-CN.md")
    for (const heading of ["## 快速开始", "## 命令行参考", "### 错误与退出码", "### 信号", "## 分帧模式"]) {
      assert.include(text, `\n${heading}`)
    }
    for (const mode of ["chunk", "line", "delimiter", "length"]) assert.include(text, `**\`${mode}\`**`)
    assert.include(text, "effect-tcp-server connect 127.0.0.1 9090")
    assert.include(text, "python3 -c")
  })

  it("a changed definition makes the check fail", () => {
    const text = read("README.md")
    const stale = text.replace("| `TCP_SERVER_PORT` | `9090` |", "| `TCP_SERVER_PORT` | `9091` |")
    assert.notStrictEqual(stale, text)
    assert.notStrictEqual(Help.updateReadme(stale, "en"), stale)
  })
})
