/**
 * Manifest CSV reading: one row per image with optional mask(s), class label and split.
 *
 * Format: a header row with at least `image`; optional `mask` (empty = no mask; `left.png|right.png` = parts
 * OR-ed together), `label` (class index or class name), `label_name`, `split` (`train`/`val`/`test`), `id`.
 * Paths are relative to the CSV's folder and may not escape it. This is the format of the bundled
 * Montgomery/Shenzhen `labels.csv` and of what `appaunet prepare` writes.
 *
 * @module
 */
import * as path from "node:path";
import { DataError } from "./errors.ts";
import { type CsvRecord, parseCsvRecords } from "./csv.ts";

export { parseCsv, parseCsvRecords } from "./csv.ts";
export type { CsvRecord } from "./csv.ts";

/** The three splits. */
export type SplitName = "train" | "val" | "test";

/** One resolved manifest row. */
export interface ManifestRow {
  /** `id` column, else the image file name without extension. */
  id: string;
  /** Absolute image path. */
  image: string;
  /** Absolute mask path(s); empty when the row has no mask. */
  masks: string[];
  /** Class index, or `null` when the row has no label. */
  label: number | null;
  /** Split from the CSV, or `null` when absent. */
  split: SplitName | null;
  /** 1-based CSV line (for messages). */
  line: number;
  /** The optional `source` column (e.g. the site or scanner): metrics are also reported per source. */
  source?: string;
}

/** A parsed manifest. */
export interface Manifest {
  /** The CSV path. */
  path: string;
  /** Folder the paths are relative to. */
  root: string;
  /** Rows in file order. */
  rows: ManifestRow[];
  /** Class names by index (e.g. `["normal", "tb"]`). */
  classNames: string[];
}

/** Options for {@linkcode readManifest}. */
export interface ReadManifestOptions {
  /**
   * Class names in index order. Default: from the `label_name` column when present, else the sorted distinct
   * non-numeric labels, else `"0" … "K-1"`.
   */
  classNames?: string[];
  /** Number of classes; labels ≥ this are an error. Default: `classNames.length`, or 2. */
  numClasses?: number;
  /** Allow paths outside the CSV's folder. Default `false`. */
  allowOutside?: boolean;
}

/**
 * Checks that an id can name an output file inside a folder: no path separators, no `.`/`..`, no control characters,
 * at most 200 characters.
 *
 * @example
 * ```ts
 * import { checkSafeId } from "./manifest.ts";
 * import assert from "node:assert/strict";
 * checkSafeId("CHNCXR_0001_0", "m.csv:2");
 * assert.throws(() => checkSafeId("../x", "m.csv:3"), /m\.csv:3: id "\.\.\/x" cannot name a file/);
 * ```
 * @param id the id
 * @param where the file and line, for the message
 * @throws {DataError} naming the line and what to use instead
 */
export function checkSafeId(id: string, where: string): void {
  // deno-lint-ignore no-control-regex
  if (id === "." || id === ".." || id.length > 200 || /[\/\\\x00-\x1f\x7f]/.test(id)) {
    throw new DataError(
      where,
      `id ${JSON.stringify(id.length > 60 ? id.slice(0, 60) + "…" : id)} cannot name a file`,
      "use letters, digits, '-', '_' and '.' (no path separators, at most 200 characters)",
    );
  }
}

/** The candidate closest to `s` by edit distance, when it is within a third of the length (for "did you mean"). */
function nearest(s: string, candidates: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0];
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const t = d[j];
        d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
        prev = t;
      }
    }
    return d[b.length];
  };
  let best: string | undefined, bestD = Infinity;
  for (const c of candidates) {
    const k = dist(s, c);
    if (k < bestD) [best, bestD] = [c, k];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(Math.max(s.length, best.length) / 3)) ? best : undefined;
}

/**
 * Reads a manifest CSV and resolves its paths.
 *
 * @example
 * ```ts
 * import { readManifest } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/m.csv`, "image,mask,label,split\na.png,,1,train\n");
 * const m = readManifest(`${dir}/m.csv`);
 * assert.equal(m.rows[0].label, 1);
 * assert.equal(m.rows[0].masks.length, 0);
 * ```
 * @param csvPath path to the CSV
 * @param opts class names and path policy
 * @returns the manifest
 * @throws {DataError} for a missing file, missing `image` column, bad labels/splits, escaping paths
 */
export function readManifest(csvPath: string, opts: ReadManifestOptions = {}): Manifest {
  const records = parseCsvRecords(readManifestText(csvPath), csvPath);
  const table = records.map((r) => r.fields);
  if (table.length === 0) throw new DataError(csvPath, "manifest is empty", "add a header row and one row per image");
  const header = table[0].map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const cols: Columns = {
    image: col("image"),
    mask: col("mask"),
    label: col("label"),
    name: col("label_name"),
    split: col("split"),
    id: col("id"),
    source: col("source"),
  };
  if (cols.image < 0) {
    throw new DataError(csvPath, `no "image" column (header: ${table[0].join(",")})`, "add an `image` column of paths");
  }
  const root = path.resolve(path.dirname(csvPath));
  const resolve = pathResolver(csvPath, root, opts);
  const body = records.slice(1);
  let classNames = opts.classNames?.slice() ?? classNamesOf(body, cols, csvPath);
  const numClasses = opts.numClasses ?? classNames?.length ?? 2;
  classNames ??= Array.from({ length: numClasses }, (_, i) => String(i));
  while (classNames.length < numClasses) classNames.push(String(classNames.length));
  const rows = body.map((r) => parseRow(r, cols, { csvPath, classNames: classNames!, numClasses, resolve }));
  if (rows.length === 0) throw new DataError(csvPath, "manifest has a header but no rows", "add one row per image");
  checkUniqueIds(rows, csvPath);
  return { path: csvPath, root, rows, classNames };
}

/** The manifest's columns by index (−1: absent). */
interface Columns {
  image: number;
  mask: number;
  label: number;
  name: number;
  split: number;
  id: number;
  source: number;
}

/** The manifest's text: UTF-8, or an error naming the line of the first bad byte (UTF-16 said as such). */
function readManifestText(csvPath: string): string {
  try {
    const bytes = Deno.readFileSync(csvPath);
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      throw new DataError(csvPath, "the file is UTF-16 (by its byte-order mark)", "save the manifest as UTF-8");
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      // The first undecodable byte shows as U+FFFD in a lenient decode: report its line.
      const lenient = new TextDecoder("utf-8").decode(bytes);
      const at = lenient.indexOf("\ufffd");
      const line = lenient.slice(0, Math.max(0, at)).split("\n").length;
      throw new DataError(
        `${csvPath}:${line}`,
        "not UTF-8 text (an invalid byte sequence on this line)",
        "save the manifest as UTF-8",
      );
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    const why = e instanceof Deno.errors.NotFound
      ? "manifest not found"
      : `cannot read manifest (${(e as Error).message})`;
    throw new DataError(
      csvPath,
      why,
      "pass the path of a CSV with an `image` column (see the README, section Manifest)",
    );
  }
}

/**
 * A resolver of the manifest's paths relative to its folder, refusing ones that lead outside it (by their text or
 * through a link) unless `allowOutside`.
 */
function pathResolver(csvPath: string, root: string, opts: ReadManifestOptions): (p: string, line: number) => string {
  let realRoot: string | undefined;
  const escapes = (from: string, to: string) => {
    const rel = path.relative(from, to);
    return rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
  };
  return (p: string, line: number) => {
    const abs = path.resolve(root, p.trim());
    if (opts.allowOutside) return abs;
    const fail = (why: string) => {
      throw new DataError(`${csvPath}:${line}`, why, "keep the files inside the CSV's folder (or pass allowOutside)");
    };
    if (escapes(root, abs)) fail(`path "${p}" escapes the dataset folder ${root}`);
    // The path text stays inside; a symlink on the way may still lead out. Missing files are reported when read.
    let real: string | undefined;
    try {
      real = Deno.realPathSync(abs);
    } catch { /* missing: "file not found" later */ }
    if (real !== undefined) {
      realRoot ??= Deno.realPathSync(root);
      if (escapes(realRoot, real)) fail(`path "${p}" is a link to ${real}, outside the dataset folder ${root}`);
    }
    return abs;
  };
}

/**
 * The class names the labels imply: label names sorted, or `label_name` by index; refuses names differing only in case
 * and a one-row near miss of a frequent name (a typo).
 */
function classNamesOf(body: CsvRecord[], cols: Columns, csvPath: string): string[] | undefined {
  const records = [undefined, ...body] as CsvRecord[];
  const iLabel = cols.label, iName = cols.name;
  const rowsOf = body.map((r) => r.fields);
  let classNames: string[] | undefined;
  {
    const byIndex = new Map<number, string>();
    const names = new Set<string>();
    const firstSeen = new Map<number, number>();
    rowsOf.forEach((r, k) => {
      const raw = (r[iLabel] ?? "").trim();
      if (iLabel < 0 || raw === "") return;
      if (/^-?\d+$/.test(raw)) {
        const name = iName >= 0 ? (r[iName] ?? "").trim() : "";
        if (!name) return;
        const idx = Number(raw), prev = byIndex.get(idx), line = records[k + 1].line;
        if (prev !== undefined && prev !== name) {
          throw new DataError(
            `${csvPath}:${line}`,
            `label ${idx} has label_name "${name}" here but "${prev}" on line ${firstSeen.get(idx)}`,
            "give each class index one label_name",
          );
        }
        byIndex.set(idx, name);
        if (!firstSeen.has(idx)) firstSeen.set(idx, line);
      } else names.add(raw);
    });
    if (names.size > 0) {
      classNames = [...names].sort();
      // "TB" and "tb" would silently become two classes.
      const byLower = new Map<string, string>();
      for (const n of classNames) {
        const other = byLower.get(n.toLowerCase());
        if (other !== undefined) {
          const line = records[1 + rowsOf.findIndex((r) => (r[iLabel] ?? "").trim() === n)].line;
          throw new DataError(
            `${csvPath}:${line}`,
            `label "${n}" differs from the label "${other}" only in case; they would be two classes`,
            "spell each class one way (or pass the class names explicitly)",
          );
        }
        byLower.set(n.toLowerCase(), n);
      }
      // A label on one row only that is a near miss of a frequent one is a typo, not a class: "tbb" among 500 "tb".
      const count = new Map<string, number>();
      for (const r of rowsOf) {
        const raw = (r[iLabel] ?? "").trim();
        if (raw && !/^-?\d+$/.test(raw)) count.set(raw, (count.get(raw) ?? 0) + 1);
      }
      for (const n of classNames) {
        if (count.get(n) !== 1) continue;
        const near = nearest(n, classNames.filter((c) => c !== n && (count.get(c) ?? 0) >= 5));
        if (!near) continue;
        const line = records[1 + rowsOf.findIndex((r) => (r[iLabel] ?? "").trim() === n)].line;
        throw new DataError(
          `${csvPath}:${line}`,
          `label "${n}" appears on this row only; did you mean "${near}" (${count.get(near)} rows)?`,
          `correct the label; if "${n}" is a class of its own, add a label_name column or more rows of it`,
        );
      }
    } else if (byIndex.size > 0) {
      const k = Math.max(...byIndex.keys()) + 1;
      classNames = Array.from({ length: k }, (_, i) => byIndex.get(i) ?? String(i));
    }
  }
  return classNames;
}

/** What parsing a row needs. */
interface RowContext {
  csvPath: string;
  classNames: string[];
  numClasses: number;
  resolve: (p: string, line: number) => string;
}

/** One manifest row: its paths resolved, its label and split checked, its id made. */
function parseRow(record: CsvRecord, cols: Columns, ctx: RowContext): ManifestRow {
  const { csvPath, classNames, numClasses, resolve } = ctx;
  const r = record.fields, line = record.line;
  const iImage = cols.image, iMask = cols.mask, iLabel = cols.label, iName = cols.name;
  const iSplit = cols.split, iId = cols.id, iSource = cols.source;
  const where = `${csvPath}:${line}`;
  const img = (r[iImage] ?? "").trim();
  if (!img) throw new DataError(where, "empty image path", "fill the `image` column or delete the row");
  const maskField = iMask >= 0 ? (r[iMask] ?? "").trim() : "";
  const masks = maskField ? maskField.split("|").filter((s) => s.trim()).map((s) => resolve(s, line)) : [];
  let label: number | null = null;
  const rawLabel = iLabel >= 0 ? (r[iLabel] ?? "").trim() : "";
  if (rawLabel !== "") {
    const numeric = /^-?\d+$/.test(rawLabel);
    label = numeric ? Number(rawLabel) : classNames!.indexOf(rawLabel);
    if (!numeric && label < 0) {
      const near = nearest(rawLabel, classNames!);
      throw new DataError(
        where,
        `label "${rawLabel}" is not a class name (${classNames!.join(", ")})${near ? `; did you mean "${near}"?` : ""}`,
        "use one of the class names or a class index 0..K-1",
      );
    }
    if (label < 0 || label >= numClasses) {
      throw new DataError(
        where,
        `label "${rawLabel}" is out of range for ${numClasses} classes (${classNames!.join(", ")})`,
        "use a class index 0..K-1 or one of the class names, or raise numClasses",
      );
    }
    const name = iName >= 0 ? (r[iName] ?? "").trim() : "";
    if (numeric && name && name !== classNames![label]) {
      throw new DataError(
        where,
        `label ${label} is class "${classNames![label]}" but label_name says "${name}"`,
        "make label and label_name agree (class indices follow the order " + classNames!.join(", ") + ")",
      );
    }
  }
  let split: SplitName | null = null;
  const rawSplit = iSplit >= 0 ? (r[iSplit] ?? "").trim().toLowerCase() : "";
  if (rawSplit) {
    if (rawSplit !== "train" && rawSplit !== "val" && rawSplit !== "test") {
      throw new DataError(where, `unknown split "${rawSplit}"`, "use train, val or test (or leave it empty)");
    }
    split = rawSplit;
  }
  const image = resolve(img, line);
  const id = (iId >= 0 ? (r[iId] ?? "").trim() : "") || path.basename(image).replace(/\.[^.]+$/, "");
  checkSafeId(id, where);
  const source = iSource >= 0 ? (r[iSource] ?? "").trim() : "";
  return { id, image, masks, label, split, line, ...(source ? { source } : {}) };
}

/** Ids name output files (overlays, masks): two rows with one id would overwrite each other's outputs. */
function checkUniqueIds(rows: ManifestRow[], csvPath: string): void {
  const firstLine = new Map<string, number>();
  for (const r of rows) {
    const prev = firstLine.get(r.id);
    if (prev !== undefined) {
      throw new DataError(
        `${csvPath}:${r.line}`,
        `id "${r.id}" is also the id of line ${prev}`,
        "give every row its own id (the `id` column, or distinct image file names)",
      );
    }
    firstLine.set(r.id, r.line);
  }
}
