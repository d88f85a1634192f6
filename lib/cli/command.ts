/**
 * How a CLI command is declared: a name and a function of its arguments (its usage text is in lib/cli/usage.ts).
 *
 * @module
 */

/** One command of the CLI. */
export interface Command {
  /** What the user types (`train`, `predict`, …). */
  name: string;
  /** Runs it with the arguments after the command name; throws `UsageError` for a mistake in them. */
  run(args: string[]): Promise<void>;
}
