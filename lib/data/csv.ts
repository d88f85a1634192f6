/**
 * CSV parsing (RFC 4180) with line numbers for messages, on npm `csv-parse`.
 *
 * @module
 */
import { parse as parseCsvLib } from "csv-parse/sync";
import { DataError } from "./errors.ts";

/** One CSV record and the line it ends on (1-based). */
export interface CsvRecord {
  /** The fields. */
  fields: string[];
  /** The line the record ends on (a quoted field may span lines). */
  line: number;
}

/**
 * Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF, LF or CR line ends, a UTF-8 byte-order mark) with
 * npm `csv-parse`, which reports malformed input (an unterminated quote, a quote inside an unquoted field) with the
 * line. Blank lines are dropped.
 *
 * @example
 * ```ts
 * import { parseCsvRecords } from "./csv.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseCsvRecords('a,b\n\n1,"x,y"\n'), [{ fields: ["a", "b"], line: 1 }, { fields: ["1", "x,y"], line: 3 }]);
 * assert.throws(() => parseCsvRecords('a,b\n1,"x\n'), /line 2/);
 * ```
 * @param text CSV text
 * @param name the file, for messages. Default `"CSV"`.
 * @returns the records with their line numbers
 * @throws {DataError} naming the file and line of malformed CSV
 */
export function parseCsvRecords(text: string, name = "CSV"): CsvRecord[] {
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    parsed = parseCsvLib(text, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      record_delimiter: ["\r\n", "\n", "\r"],
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    const err = e as Error & { lines?: number; code?: string };
    const line = err.lines ?? 0;
    throw new DataError(
      line ? `${name}:${line}` : name,
      `malformed CSV (${err.message})`,
      'quote fields that hold commas or quotes, and double the quotes inside them ("")',
    );
  }
  return parsed
    .filter((r) => r.record.some((f) => f.trim() !== ""))
    .map((r) => ({ fields: r.record, line: r.info.lines }));
}

/**
 * Parses CSV text into rows of fields (see {@linkcode parseCsvRecords}).
 *
 * @example
 * ```ts
 * import { parseCsv } from "./csv.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseCsv('a,b\n1,"x,y"\n'), [["a","b"],["1","x,y"]]);
 * ```
 * @param text CSV text
 * @returns rows of fields (blank lines dropped)
 * @throws {DataError} for malformed CSV, naming the line
 */
export function parseCsv(text: string): string[][] {
  return parseCsvRecords(text).map((r) => r.fields);
}
