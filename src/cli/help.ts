/**
 * The help texts, made for an 80-column terminal, and the README's flag tables, both from the flag table in
 * `options.ts`. Colour (bold headings and flags) only when asked for: the caller knows whether stdout is a
 * terminal and whether `NO_COLOR` is set.
 *
 * @since 0.1.0
 */
import * as Errors from "./errors.js"
import * as Flag from "./flag.js"
import * as Options from "./options.js"

/**
 * Columns the help fits in.
 *
 * @since 0.1.0
 * @category constants
 */
export const width = 80

/**
 * @since 0.1.0
 * @category models
 */
export interface Style {
  readonly colour: boolean
}

const bold = (style: Style, text: string) => style.colour ? `\u001b[1m${text}\u001b[22m` : text

// East Asian wide characters take two columns (the default reply is Chinese).
const wide = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u

/**
 * How many terminal columns `text` takes, ANSI sequences excluded.
 *
 * @since 0.1.0
 * @category formatting
 */
export const columns = (text: string): number => {
  let count = 0
  for (const char of Errors.plain(text)) count += wide.test(char) ? 2 : 1
  return count
}

/**
 * Breaks `text` into lines of at most `size` columns, at spaces.
 *
 * @since 0.1.0
 * @category formatting
 */
export const wrap = (text: string, size: number): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((word) => word.length > 0)) {
    const next = line === "" ? word : `${line} ${word}`
    if (line !== "" && columns(next) > size) {
      lines.push(line)
      line = word
    } else {
      line = next
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

const paragraph = (text: string) => wrap(text, width).join("\n")

/**
 * Text made for a wider terminal, each line longer than {@link width} wrapped with its indentation kept.
 *
 * @since 0.1.0
 * @category formatting
 */
export const fit = (text: string): string =>
  text.split("\n").map((line) => {
    if (columns(line) <= width) return line
    const indent = /^ */.exec(line)![0]
    return wrap(line, width - indent.length).map((part) => indent + part).join("\n")
  }).join("\n")

const flagColumn = 30

const flagName = (flag: Flag.Flag<unknown>): string => {
  const name = `--${flag.name}${flag.placeholder === "" ? "" : ` ${flag.placeholder}`}`
  return flag.alias === undefined ? `    ${name}` : `-${flag.alias}, ${name}`
}

/**
 * The last line of a flag's help: its environment variable and default, e.g. `env TCP_SERVER_PORT, default 9090`
 * or `env TCP_SERVER_ALLOW, default everyone`.
 *
 * @since 0.1.0
 * @category help
 */
export const helpMeta = (flag: Flag.Flag<unknown>): string =>
  `env ${flag.standardEnv === undefined ? flag.env : `${flag.env} or ${flag.standardEnv}`}, default ${
    flag.shownDefault.replace(/^\((.*)\)$/, "$1")
  }`

const flagHelp = (flag: Flag.Flag<unknown>, style: Style): string => {
  const left = `  ${flagName(flag)}`
  const indent = " ".repeat(flagColumn)
  const body = [
    ...wrap(flag.description, width - flagColumn),
    ...wrap(helpMeta(flag), width - flagColumn)
  ]
  const first = columns(left) + 2 <= flagColumn
    ? [
      `${bold(style, left)}${" ".repeat(flagColumn - columns(left))}${body[0]}`,
      ...body.slice(1).map((l) => indent + l)
    ]
    : [bold(style, left), ...body.map((l) => indent + l)]
  return first.join("\n")
}

/**
 * `effect-tcp-server serve --help`.
 *
 * @since 0.1.0
 * @category help
 */
export const serve = (style: Style): string => {
  const sections = Flag.groups.map(({ en, group }) =>
    [
      bold(style, `${en}:`),
      ...Options.serveFlags.filter((flag) => flag.group === group).map((flag) => flagHelp(flag, style))
    ].join("\n")
  )
  return [
    `${bold(style, "Usage:")} effect-tcp-server serve [flags]`,
    paragraph(
      "Accepts TCP clients, logs what they send and replies to every message, until Ctrl-C or SIGTERM. " +
        "SIGUSR1 prints a stats line; SIGHUP reopens the log file, if any."
    ),
    paragraph(
      "Every flag can be set by its environment variable instead; a flag wins over its variable, an empty " +
        "variable counts as unset. Durations: 30 (seconds), 30s, 500ms, 5m or 1h; 0 turns a timeout off."
    ),
    ...sections
  ].join("\n\n") + "\n"
}

/**
 * A line of the top-level help: a command and what it does.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandSummary {
  readonly name: string
  readonly summary: string
}

/**
 * `effect-tcp-server --help`.
 *
 * @since 0.1.0
 * @category help
 */
export const top = (options: {
  readonly version: string
  readonly commands: ReadonlyArray<CommandSummary>
  readonly style: Style
}): string => {
  const nameWidth = Math.max(...options.commands.map((command) => command.name.length)) + 3
  const commands = options.commands.map(({ name, summary }) => {
    const [first = "", ...rest] = wrap(summary, width - 2 - nameWidth)
    return [
      `  ${bold(options.style, name)}${" ".repeat(nameWidth - name.length)}${first}`,
      ...rest.map((line) => " ".repeat(2 + nameWidth) + line)
    ].join("\n")
  })
  return [
    paragraph(
      `effect-tcp-server ${options.version}: a multi-client TCP server for GBK and any other iconv-lite encoding.`
    ),
    `${bold(options.style, "Usage:")} effect-tcp-server COMMAND [flags]`,
    [bold(options.style, "Commands:"), ...commands].join("\n"),
    [
      "Run \"effect-tcp-server COMMAND --help\" for the flags of a command,",
      "\"effect-tcp-server --version\" for the version."
    ].join("\n")
  ].join("\n\n") + "\n"
}

/**
 * The languages of the README's flag tables.
 *
 * @since 0.1.0
 * @category models
 */
export type Language = "en" | "zh"

const headers: Record<Language, string> = {
  en: "| flag | environment variable | default | meaning |",
  zh: "| 参数 | 环境变量 | 默认值 | 说明 |"
}

const zhDefaults: Record<string, string> = {
  "(everyone)": "（所有人）",
  "(no one)": "（无）",
  "(nothing)": "（不发送）",
  "0 (unlimited)": "0（不限）",
  "0 (off)": "0（关闭）",
  "0 (never)": "0（从不）",
  "(off)": "（关闭）",
  "(stdout and stderr)": "（stdout 和 stderr）"
}

const code = (text: string) => `\`${text.replace(/\|/g, "\\|")}\``
const prose = (text: string) => text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|")

// A default in parentheses is a description, not a value to type.
const shownDefault = (flag: Flag.Flag<unknown>, language: Language) => {
  const text = language === "zh" ? zhDefaults[flag.shownDefault] ?? flag.shownDefault : flag.shownDefault
  const match = /^([^(（]*?)\s*([(（].*)$/.exec(text)
  if (match === null) return code(text)
  return match[1] === "" ? match[2]! : `${code(match[1]!)}${language === "zh" ? "" : " "}${match[2]}`
}

/**
 * The README's flag tables (one per group), between the markers {@link tableStart} and {@link tableEnd}.
 *
 * @since 0.1.0
 * @category readme
 */
export const markdownTables = (language: Language): string =>
  Flag.groups.map(({ group, ...titles }) =>
    [
      `**${titles[language]}**`,
      "",
      headers[language],
      "| --- | --- | --- | --- |",
      ...Options.serveFlags.filter((flag) => flag.group === group).map((flag) => {
        const names = [
          code(`--${flag.name}${flag.placeholder === "" ? "" : ` ${flag.placeholder}`}`),
          ...(flag.alias === undefined ? [] : [code(`-${flag.alias}`)])
        ].join(", ")
        const description = language === "zh" ? flag.zh : flag.description
        return `| ${names} | ${
          [flag.env, ...(flag.standardEnv === undefined ? [] : [flag.standardEnv])].map(code).join(", ")
        } | ${shownDefault(flag, language)} | ${prose(description)} |`
      })
    ].join("\n")
  ).join("\n\n")

/**
 * @since 0.1.0
 * @category readme
 */
export const tableStart = "<!-- serve flags: generated from src/cli/options.ts by scripts/flag-tables.mjs -->"

/**
 * @since 0.1.0
 * @category readme
 */
export const tableEnd = "<!-- end of serve flags -->"

/**
 * `readme` with its flag table replaced by the one made from the definitions.
 *
 * @since 0.1.0
 * @category readme
 */
export const updateReadme = (readme: string, language: Language): string => {
  const start = readme.indexOf(tableStart)
  const end = readme.indexOf(tableEnd)
  if (start < 0 || end < start) return readme
  return `${readme.slice(0, start + tableStart.length)}\n\n${markdownTables(language)}\n\n${readme.slice(end)}`
}
