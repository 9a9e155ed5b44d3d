/**
 * A first pass over the command line of a command whose flags are in the table: it finds what @effect/cli
 * would report badly (a flag without its value is an "unknown argument" there) and rewrites the rest in one
 * form, `--name value`, for @effect/cli to parse.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type * as Flag from "./flag.js"
import * as Values from "./values.js"

/**
 * The command line rewritten, and the values of the flags taken out of it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scanned {
  readonly args: ReadonlyArray<string>
  readonly extracted: ReadonlyMap<string, string>
}

const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

const suggestion = (flags: ReadonlyArray<Flag.Flag<unknown>>, name: string): string => {
  const close = flags.map((flag) => ({ flag, d: distance(flag.name, name) })).sort((a, b) => a.d - b.d)[0]
  return close !== undefined && close.d <= 2 ? `: did you mean --${close.flag.name}?` : ""
}

/**
 * Scans `args` (after the command's name) against `flags`. Fails with the problem, in one line: an unknown
 * flag, a flag without its value, a flag given twice, an argument that is not a flag. The flags named in
 * `extract` are taken out of the command line.
 *
 * @since 0.1.0
 * @category parsing
 */
export const scan = (
  flags: ReadonlyArray<Flag.Flag<unknown>>,
  args: ReadonlyArray<string>,
  extract: ReadonlyArray<string>
): Either.Either<Scanned, string> => {
  const out: Array<string> = []
  const extracted = new Map<string, string>()
  const seen = new Set<string>()
  const find = (token: string) =>
    token.startsWith("--")
      ? flags.find((flag) => flag.name === token.slice(2).split("=")[0])
      : /^-[A-Za-z]$/.test(token)
      ? flags.find((flag) => flag.alias === token.slice(1))
      : undefined
  const isFlag = (token: string) => find(token) !== undefined || token === "--help" || token === "-h"
  let i = 0
  while (i < args.length) {
    const token = args[i++]!
    if (token === "--") {
      if (i < args.length) return Either.left(`unexpected argument "${args[i]}": the command takes only flags`)
      break
    }
    if (!token.startsWith("-") || token === "-") {
      return Either.left(`unexpected argument "${token}": the command takes only flags`)
    }
    const flag = find(token)
    if (flag === undefined) {
      const name = token.replace(/^-+/, "").split("=")[0]!
      return Either.left(`unknown flag ${token.split("=")[0]}${suggestion(flags, name)}`)
    }
    if (seen.has(flag.name)) return Either.left(`--${flag.name} is given twice`)
    seen.add(flag.name)
    const equals = token.startsWith("--") ? token.indexOf("=") : -1
    let value: string | undefined = equals >= 0 ? token.slice(equals + 1) : undefined
    if (flag.kind === "boolean") {
      if (value === undefined && i < args.length && Values.booleanWords.includes(args[i]!.toLowerCase())) {
        value = args[i++]!
      }
      if (value !== undefined) {
        const parsed = Values.boolean(value)
        if (Either.isLeft(parsed)) return Either.left(`invalid --${flag.name} "${value}": expected true or false`)
        value = String(parsed.right)
      }
    } else if (value === undefined) {
      if (i >= args.length || isFlag(args[i]!)) return Either.left(`--${flag.name} needs a value`)
      value = args[i++]!
    }
    if (extract.includes(flag.name)) extracted.set(flag.name, value ?? "true")
    else out.push(`--${flag.name}`, ...(value === undefined ? [] : [value]))
  }
  return Either.right({ args: out, extracted })
}
