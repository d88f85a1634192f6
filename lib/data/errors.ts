/**
 * The error type of the data pipeline: one line that names the file and says what to do.
 *
 * @module
 */

/**
 * A bad input file, manifest row or option. `message` is one line: the file (or argument), what is wrong,
 * and how to fix it.
 *
 * @example
 * ```ts
 * import { DataError } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const e = new DataError("x.png", "file is empty (0 bytes)", "re-export the image");
 * assert.equal(e.message, "x.png: file is empty (0 bytes); re-export the image");
 * ```
 */
export class DataError extends Error {
  /** The file or argument the error is about. */
  readonly file: string;
  /**
   * Creates the error; its message is `file: problem; fix`.
   *
   * @param file the file (or argument) at fault
   * @param problem what is wrong with it
   * @param fix what the user should do
   */
  constructor(file: string, problem: string, fix: string) {
    super(`${file}: ${problem}; ${fix}`);
    this.name = "DataError";
    this.file = file;
  }
}
