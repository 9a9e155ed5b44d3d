/**
 * Characters that can change how a terminal or a log line is laid out: C0 and C1 controls, DEL, the Unicode
 * line and paragraph separators and the bidirectional overrides and isolates.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const layout = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }

const escapeOne = (char: string): string => {
  const named1 = named[char]
  if (named1 !== undefined) return named1
  const code = char.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
}

const layoutGlobal = new RegExp(layout.source, "g")

/**
 * A client's text made safe to print on one line: newline, carriage return and tab become `\n`, `\r` and `\t`,
 * other controls `\xHH` (ESC is `\x1b`), separators and bidirectional controls `\uHHHH`. Other text, Chinese
 * included, is unchanged, and so is the backslash (the text reads as sent); so a client can neither end a log
 * line nor send escape sequences to the operator's terminal.
 *
 * @internal
 */
export const escapeControl = (text: string): string => layout.test(text) ? text.replace(layoutGlobal, escapeOne) : text
