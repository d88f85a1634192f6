/**
 * Shared by the CLI tests: runs a command and collects what it printed.
 *
 * @module
 */

/**
 * Runs `fn` with `console.log` and `console.error` collected.
 *
 * @param fn the command (returns its exit code)
 * @returns the exit code and the printed text
 */
export async function capture(fn: () => Promise<number>) {
  const out: string[] = [];
  const log = console.log, err = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void out.push(a.join(" "));
  try {
    const code = await fn();
    return { code, text: out.join("\n") };
  } finally {
    console.log = log;
    console.error = err;
  }
}
