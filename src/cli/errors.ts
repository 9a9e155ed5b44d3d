/**
 * Usage errors: a flag, a variable or a command line the program cannot use. Each is one line on stderr and
 * exit code 2; failures at run time (a port in use) exit 1.
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Data from "effect/Data"

/**
 * The command line or the environment asks for something the program cannot do. The message ends by pointing
 * at the help of the command: `invalid --port "abc": expected a whole number from 0 to 65535 (see
 * effect-tcp-server serve --help)`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly problem: string
  /** The subcommand whose help to point at; none for the top level. */
  readonly command?: string | undefined
}> {
  override get message(): string {
    const help = this.command === undefined ? "effect-tcp-server --help" : `effect-tcp-server ${this.command} --help`
    return `${this.problem} (see ${help})`
  }
}

/**
 * The exit code of a usage error.
 *
 * @since 0.1.0
 * @category constants
 */
export const usageExitCode = 2

/**
 * Removes ANSI colour and style sequences.
 *
 * @since 0.1.0
 * @category formatting
 */
// eslint-disable-next-line no-control-regex -- ESC is what this looks for
export const plain = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, "")

/**
 * One line from an @effect/cli validation error, which is a help document of one or more paragraphs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromValidationError = (
  error: ValidationError.ValidationError,
  command: string | undefined
): UsageError => {
  const text = plain(HelpDoc.toAnsiText(error.error)).replace(/\s+/g, " ").trim()
  return new UsageError({ problem: text.replace(/\.$/, ""), command })
}
