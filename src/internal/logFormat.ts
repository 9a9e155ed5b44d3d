import * as Cause from "effect/Cause"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as LogLevel from "effect/LogLevel"
import * as FiberLog from "./fiberLog.js"

// C0 controls, DEL, C1 controls and the two Unicode line separators: everything a terminal or a line-oriented
// log reader could take as layout. Printable text of any script is left alone.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const control = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/
// eslint-disable-next-line no-control-regex -- as above
const controlGlobal = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g

const hex2 = (code: number): string => code.toString(16).padStart(2, "0")

const escapeOne = (char: string): string => {
  switch (char) {
    case "\n":
      return "\\n"
    case "\r":
      return "\\r"
    case "\t":
      return "\\t"
    case "\u2028":
      return "\\u2028"
    case "\u2029":
      return "\\u2029"
    default:
      return `\\x${hex2(char.charCodeAt(0))}`
  }
}

/** @internal */
export const escapeControl = (text: string): string =>
  control.test(text) ? text.replace(controlGlobal, escapeOne) : text

/** @internal */
export const renderMessage = (message: unknown): string =>
  Array.isArray(message)
    ? message.length === 1 && typeof message[0] === "string"
      ? message[0]
      : message.map((part) => typeof part === "string" ? part : Inspectable.toStringUnknown(part)).join(" ")
    : typeof message === "string"
    ? message
    : Inspectable.toStringUnknown(message)

/** @internal */
export const levelName = (level: LogLevel.LogLevel): string =>
  level._tag === "Warning" ? "warn" : level._tag.toLowerCase()

// The connection fields first, in the order a person reads them; any other annotation after them by name.
/** @internal */
export const preferred: ReadonlyArray<string> = [
  "event",
  "connection",
  "remote_address",
  "remote_port",
  "text",
  "bytes",
  "hex"
]
const reserved = new Set(["timestamp", "level", "message", "cause"])

/**
 * The annotations of a record in a stable order; one whose name is a record field (`timestamp`, `level`,
 * `message`, `cause`) is written as `annotation_<name>` so it cannot overwrite it. A line of {@link FiberLog}
 * gives its annotations as they are, without the map (which it builds only when asked).
 *
 * @internal
 */
export const fields = (record: Record): ReadonlyArray<readonly [string, unknown]> => {
  const known = new Array<unknown>(preferred.length)
  let rest: Map<string, unknown> | undefined
  let any = false
  // One pass (a lookup per preferred name would hash each name on every line); a later name wins.
  const add = (key: string, value: unknown) => {
    any = true
    const index = preferred.indexOf(key)
    if (index >= 0) known[index] = value
    else (rest ??= new Map()).set(reserved.has(key) ? `annotation_${key}` : key, value)
  }
  if (record instanceof FiberLog.Line) {
    if (HashMap.size(record.base) > 0) { for (const [key, value] of record.base) add(key, value) }
    for (const [key, value] of record.fixed) add(key, value)
    if (record.extra !== undefined) { for (const [key, value] of record.extra) add(key, value) }
  } else {
    if (HashMap.size(record.annotations) === 0) return []
    for (const [key, value] of record.annotations) add(key, value)
  }
  if (!any) return []
  const result: Array<readonly [string, unknown]> = []
  for (let i = 0; i < preferred.length; i++) {
    const key = preferred[i]
    if (key !== undefined && i in known) result.push([key, known[i]])
  }
  if (rest !== undefined) {
    for (const key of [...rest.keys()].sort()) result.push([key, rest.get(key)])
  }
  return result
}

const outOfOrder = -2

// The index in `preferred` of the last of `annotations`, when all are preferred names in that order after
// `after`; otherwise outOfOrder.
const lastInOrder = (annotations: ReadonlyArray<FiberLog.Annotation>, after: number): number => {
  let last = after
  for (const [key] of annotations) {
    const index = preferred.indexOf(key)
    if (index <= last) return outOfOrder
    last = index
  }
  return last
}

const fixedLast = new WeakMap<ReadonlyArray<FiberLog.Annotation>, number>()

/**
 * A line of {@link FiberLog} whose annotations are already in the order {@link fields} gives (the fiber has none
 * of its own; the line's fixed ones, then its own, all preferred names in that order): they are written as they
 * are, and the fixed ones, the same on every line of a connection (primitive values, made once), are rendered
 * once per format. Every message line of `Connection.respond` is one of these.
 */
/** @internal */
export const inOrder = (record: Record): FiberLog.Line | undefined => {
  if (!(record instanceof FiberLog.Line) || HashMap.size(record.base) > 0) return undefined
  let last = fixedLast.get(record.fixed)
  if (last === undefined) {
    last = lastInOrder(record.fixed, -1)
    fixedLast.set(record.fixed, last)
  }
  if (last === outOfOrder) return undefined
  return record.extra === undefined || lastInOrder(record.extra, last) !== outOfOrder ? record : undefined
}

/** @internal */
export const noAnnotations: HashMap.HashMap<string, unknown> = HashMap.empty()

/** @internal */
export const noCause: Cause.Cause<unknown> = Cause.empty

/** @internal */
export interface Record {
  readonly date: Date
  readonly logLevel: LogLevel.LogLevel
  readonly message: unknown
  readonly annotations: HashMap.HashMap<string, unknown>
  readonly cause: Cause.Cause<unknown>
}

const jsonValue = (value: unknown): unknown => {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value
    case "bigint":
      return value.toString()
    default:
      return value === null || value === undefined ? null : Inspectable.toJSON(value)
  }
}

// Lines are logged many per millisecond: the ISO-8601 form of the last millisecond is kept.
let lastMillis = Number.NaN
let lastTimestamp = ""

/** `date.toISOString()`, computed once per millisecond. @internal */
export const timestamp = (date: Date): string => {
  const millis = date.getTime()
  if (millis !== lastMillis) {
    lastMillis = millis
    lastTimestamp = date.toISOString()
  }
  return lastTimestamp
}

const hasSeparator = /[\u2028\u2029]/
const separators = /[\u2028\u2029]/g

/** JSON text with U+2028 and U+2029 (which `JSON.stringify` leaves alone) escaped too. */
const escapeSeparators = (json: string): string =>
  hasSeparator.test(json) ? json.replace(separators, (char) => char === "\u2028" ? "\\u2028" : "\\u2029") : json

// What JSON.stringify escapes in a string (quote, backslash, C0 controls, lone surrogates: any surrogate is sent
// there), and the two separators it leaves alone. Without any of them a string is its JSON between quotes, made
// in a third of the time.
/** @internal */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const needsEscape = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/

/** A string as JSON, U+2028 and U+2029 escaped too. @internal */
export const jsonString = (text: string): string =>
  needsEscape.test(text) ? escapeSeparators(JSON.stringify(text)) : `"${text}"`

// The keys are few (annotation names): each is written as JSON once.
const jsonKeys = new Map<string, string>()
/** @internal */
export const jsonKey = (key: string): string => {
  let literal = jsonKeys.get(key)
  if (literal === undefined) {
    literal = jsonString(key)
    if (jsonKeys.size < 1024) jsonKeys.set(key, literal)
  }
  return literal
}

const jsonField = (value: unknown): string => {
  const plain = jsonValue(value)
  return typeof plain === "string"
    ? jsonString(plain)
    : typeof plain === "number"
    ? (Number.isFinite(plain) ? String(plain) : "null")
    : escapeSeparators(JSON.stringify(plain) ?? "null")
}

/** @internal */
export const jsonFields = (annotations: ReadonlyArray<FiberLog.Annotation>): string => {
  let text = ""
  for (const [key, value] of annotations) text += `,${jsonKey(key)}:${jsonField(value)}`
  return text
}

// The rendered fixed annotations of a connection's lines (see `inOrder`), per format.
const jsonFixed = new WeakMap<ReadonlyArray<FiberLog.Annotation>, string>()
const logfmtFixed = new WeakMap<ReadonlyArray<FiberLog.Annotation>, string>()

const rendered = (
  cache: WeakMap<ReadonlyArray<FiberLog.Annotation>, string>,
  annotations: ReadonlyArray<FiberLog.Annotation>,
  render: (annotations: ReadonlyArray<FiberLog.Annotation>) => string
): string => {
  let text = cache.get(annotations)
  if (text === undefined) {
    text = render(annotations)
    cache.set(annotations, text)
  }
  return text
}

/**
 * A record's annotations as `render` writes them. A line of {@link inOrder} is written as it is, its connection's
 * fixed annotations rendered once (kept in `cache`); any other record's annotations are put in order first.
 */
const annotationsText = (
  record: Record,
  cache: WeakMap<ReadonlyArray<FiberLog.Annotation>, string>,
  render: (annotations: ReadonlyArray<FiberLog.Annotation>) => string
): string => {
  const direct = inOrder(record)
  if (direct === undefined) return render(fields(record))
  const fixed = rendered(cache, direct.fixed, render)
  return direct.extra === undefined ? fixed : fixed + render(direct.extra)
}

/**
 * One JSON object per line. `JSON.stringify` escapes every control character, so a client's text cannot end the
 * record; U+2028 and U+2029, which it leaves alone, are escaped too. Written field by field (the keys are ours,
 * already valid JSON), which costs about half of building an object and stringifying it.
 *
 * @internal
 */
export const json = (record: Record): string => {
  let line = `{"timestamp":"${timestamp(record.date)}","level":"${levelName(record.logLevel)}","message":${
    jsonString(renderMessage(record.message))
  }`
  line += annotationsText(record, jsonFixed, jsonFields)
  if (!Cause.isEmpty(record.cause)) line += `,"cause":${jsonString(Cause.pretty(record.cause))}`
  return line + "}"
}

// A bare logfmt value: no space, quote, equals sign, backslash or control character, and not empty.
// eslint-disable-next-line no-control-regex -- as above
const bare = /^[^\s"=\\\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/

/**
 * A logfmt value: bare when it can be, otherwise in double quotes with `\\`, `\"` and the control characters
 * escaped. A backslash is only ever written inside quotes, and there always doubled, so `\n` in a quoted value
 * is always an escaped newline and never a client's backslash followed by `n`.
 *
 * @internal
 */
export const logfmtValue = (text: string): string =>
  bare.test(text) ? text : `"${escapeControl(text.replace(/[\\"]/g, (char) => `\\${char}`))}"`

const stringValue = (value: unknown): string =>
  typeof value === "string" ? value : value === undefined ? "" : Inspectable.toStringUnknown(value, 0)

/** @internal */
export const logfmt = (record: Record): string => {
  let line = `timestamp=${timestamp(record.date)} level=${levelName(record.logLevel)} message=${
    logfmtValue(renderMessage(record.message))
  }`
  line += annotationsText(record, logfmtFixed, logfmtFields)
  if (!Cause.isEmpty(record.cause)) line += ` cause=${logfmtValue(Cause.pretty(record.cause))}`
  return line
}

const logfmtFields = (annotations: ReadonlyArray<FiberLog.Annotation>): string => {
  let text = ""
  for (const [key, value] of annotations) text += ` ${logfmtKey(key)}=${logfmtValue(stringValue(value))}`
  return text
}

// Keys are ours, but an annotation name could still hold anything: keep only what logfmt readers accept.
const logfmtKey = (key: string): string => {
  const cleaned = key.replace(/[^A-Za-z0-9_.-]/g, "_")
  return cleaned.length === 0 ? "_" : cleaned
}

/**
 * Today's tutorial lines: Info and below as the bare message (for stdout); warnings and errors with their level
 * (for stderr), followed by the pretty cause when there is one. The message is escaped; the cause, written by
 * this program, is not.
 *
 * @internal
 */
export const tutorial = (record: Record): string => {
  const text = escapeControl(renderMessage(record.message))
  if (LogLevel.lessThan(record.logLevel, LogLevel.Warning)) return text
  const label = record.logLevel._tag === "Warning" ? "WARN" : record.logLevel.label
  return Cause.isEmpty(record.cause) ? `${label} ${text}` : `${label} ${text}\n${Cause.pretty(record.cause)}`
}
