/**
 * A flag of the command line as the CLI defines it (name, alias, environment variable, default, group,
 * description, how its value is read), and the @effect/cli option made from it.
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"

/**
 * The sections of `serve --help` and of the README's flag table, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Group = "listening" | "protocol" | "limits" | "timeouts" | "output" | "observability"

/**
 * @since 0.1.0
 * @category constants
 */
export const groups: ReadonlyArray<{ readonly group: Group; readonly en: string; readonly zh: string }> = [
  { group: "listening", en: "Listening", zh: "监听" },
  { group: "protocol", en: "Protocol", zh: "协议" },
  { group: "limits", en: "Limits", zh: "限制" },
  { group: "timeouts", en: "Timeouts and shutdown", zh: "超时与关闭" },
  { group: "output", en: "Output", zh: "输出" },
  { group: "observability", en: "Metrics and traces", zh: "指标与追踪" }
]

/**
 * What kind of value a flag takes. A `boolean` flag takes no value (`--quiet`), or `true`/`false` after it.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "text" | "number" | "duration" | "choice" | "list" | "boolean"

/**
 * One flag of `serve`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flag<A> {
  /** Without the dashes: `port`. */
  readonly name: string
  /** One letter, without the dash: `p`. */
  readonly alias: string | undefined
  /** The environment variable read when the flag is not given: `TCP_SERVER_PORT`. */
  readonly env: string
  /** A standard variable read when {@link Flag.env} is unset: `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly standardEnv: string | undefined
  readonly group: Group
  readonly kind: Kind
  /** What the value looks like in `--help`: `N`, `ADDRESS`, `chunk|line|delimiter|length`; empty for booleans. */
  readonly placeholder: string
  readonly default: A
  /** The default as `--help` and the README write it. */
  readonly shownDefault: string
  readonly description: string
  /** The description in Chinese, for README.zh-CN.md. */
  readonly zh: string
  /** Reads the value of the flag or of the variable; fails with what was expected instead. */
  readonly read: (text: string) => Effect.Effect<A, string>
}

/**
 * The type of a flag's value.
 *
 * @since 0.1.0
 * @category models
 */
export type ValueOf<F> = F extends Flag<infer A> ? A : never

/**
 * Where a value came from.
 *
 * @since 0.1.0
 * @category models
 */
export type Source = "flag" | "env" | "default"

/**
 * A flag's value and where it came from, for the checks of flags that contradict each other.
 *
 * @since 0.1.0
 * @category models
 */
export interface Given<A> {
  readonly value: A
  readonly source: Source
}

/**
 * Flags taken out of the command line before @effect/cli parses it, by name. `--log-level` is one: @effect/cli
 * has a built-in `--log-level` that would take it first (and accept levels `serve` does not).
 *
 * @since 0.1.0
 * @category flags
 */
export const extracted: FiberRef.FiberRef<ReadonlyMap<string, string>> = FiberRef.unsafeMake<
  ReadonlyMap<string, string>
>(new Map())

/**
 * Where a value comes from, as messages name it: `--port` or `TCP_SERVER_PORT`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const origin = (flag: Flag<unknown>, source: Source): string => source === "env" ? flag.env : `--${flag.name}`

type Raw =
  | { readonly source: "flag"; readonly text: string }
  | { readonly source: "env"; readonly name: string; readonly text: string }
  | { readonly source: "default" }

const fromFlag = (text: string): Raw => ({ source: "flag", text })

// An empty variable is unset, like a missing one: `TCP_SERVER_HOST=` must not mean "listen on ::".
const fromVariable = (name: string): Config.Config<Raw> =>
  Config.string(name).pipe(
    Config.option,
    Config.map((text): Raw =>
      Option.isSome(text) && text.value !== "" ? { source: "env", name, text: text.value } : { source: "default" }
    )
  )

// The flag's own variable, else its standard one.
const fromEnv = (flag: Flag<unknown>): Config.Config<Raw> =>
  flag.standardEnv === undefined ? fromVariable(flag.env) : Config.zipWith(
    fromVariable(flag.env),
    fromVariable(flag.standardEnv),
    (own, standard) => own.source === "default" ? standard : own
  )

/**
 * The @effect/cli option of a flag: the flag, else its environment variable, else its default, read and
 * checked. A bad value fails with one line, e.g. `invalid --port "abc": expected a whole number from 0 to 65535`
 * or `invalid TCP_SERVER_PORT "abc": …`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toOption = <A>(flag: Flag<A>): Options.Options<Given<A>> => {
  const aliases = flag.alias === undefined ? [] : [flag.alias]
  const raw: Options.Options<Raw> = flag.kind === "boolean"
    // Options.boolean defaults to false; the environment must be asked before that default applies.
    ? Options.boolean(flag.name, { aliases }).pipe(
      Options.withFallbackConfig(fromEnv(flag)),
      Options.map((value) => typeof value === "boolean" ? fromFlag(String(value)) : value)
    )
    : Options.text(flag.name).pipe(
      aliases.length === 0 ? (option) => option : Options.withAlias(aliases[0]!),
      Options.map(fromFlag),
      Options.withFallbackConfig(fromEnv(flag))
    )
  return raw.pipe(
    Options.withDescription(flag.description),
    Options.mapEffect((parsed) =>
      Effect.flatMap(FiberRef.get(extracted), (taken): Effect.Effect<Given<A>, ValidationError.ValidationError> => {
        const text = taken.get(flag.name)
        const given: Raw = text === undefined ? parsed : fromFlag(text)
        if (given.source === "default") return Effect.succeed({ value: flag.default, source: "default" })
        return flag.read(given.text).pipe(
          Effect.map((value) => ({ value, source: given.source })),
          Effect.mapError((expected) =>
            ValidationError.invalidValue(
              HelpDoc.p(
                `invalid ${
                  given.source === "env" ? given.name : `--${flag.name}`
                } "${given.text}": expected ${expected}`
              )
            )
          )
        )
      })
    )
  )
}
