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
 * Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF).
 *
 * @example
 * ```ts
 * import { parseCsv } from "@appaunet/appaunet";
 * console.log(parseCsv('a,b\n1,"x,y"\n')); // [["a","b"],["1","x,y"]]
 * ```
 * @param text CSV text
 * @returns rows of fields (blank lines dropped)
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    if (row.length > 1 || row[0] !== "") rows.push(row);
  }
  return rows;
}

/**
 * Reads a manifest CSV and resolves its paths.
 *
 * @example
 * ```ts
 * import { readManifest } from "@appaunet/appaunet";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/m.csv`, "image,mask,label,split\na.png,,1,train\n");
 * const m = readManifest(`${dir}/m.csv`);
 * console.log(m.rows[0].label, m.rows[0].masks.length); // 1 0
 * ```
 * @param csvPath path to the CSV
 * @param opts class names and path policy
 * @returns the manifest
 * @throws {DataError} for a missing file, missing `image` column, bad labels/splits, escaping paths
 */
export function readManifest(csvPath: string, opts: ReadManifestOptions = {}): Manifest {
  let text: string;
  try {
    text = Deno.readTextFileSync(csvPath);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "manifest not found"
      : `cannot read manifest (${(e as Error).message})`;
    throw new DataError(csvPath, why, "pass the path of a CSV with an `image` column (see README: Manifest)");
  }
  const table = parseCsv(text);
  if (table.length === 0) throw new DataError(csvPath, "manifest is empty", "add a header row and one row per image");
  const header = table[0].map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const iImage = col("image"), iMask = col("mask"), iLabel = col("label"), iName = col("label_name");
  const iSplit = col("split"), iId = col("id");
  if (iImage < 0) {
    throw new DataError(csvPath, `no "image" column (header: ${table[0].join(",")})`, "add an `image` column of paths");
  }
  const root = path.resolve(path.dirname(csvPath));
  const resolve = (p: string, line: number) => {
    const abs = path.resolve(root, p.trim());
    const rel = path.relative(root, abs);
    if (!opts.allowOutside && (rel.startsWith("..") || path.isAbsolute(rel))) {
      throw new DataError(
        `${csvPath}:${line}`,
        `path "${p}" escapes the dataset folder ${root}`,
        "keep the files inside the CSV's folder (or pass allowOutside)",
      );
    }
    return abs;
  };
  const body = table.slice(1);
  // Class names.
  let classNames = opts.classNames?.slice();
  if (!classNames) {
    const byIndex = new Map<number, string>();
    const names = new Set<string>();
    for (const r of body) {
      const raw = (r[iLabel] ?? "").trim();
      if (iLabel < 0 || raw === "") continue;
      if (/^-?\d+$/.test(raw)) {
        if (iName >= 0 && (r[iName] ?? "").trim()) byIndex.set(Number(raw), r[iName].trim());
      } else names.add(raw);
    }
    if (names.size > 0) classNames = [...names].sort();
    else if (byIndex.size > 0) {
      const k = Math.max(...byIndex.keys()) + 1;
      classNames = Array.from({ length: k }, (_, i) => byIndex.get(i) ?? String(i));
    }
  }
  const numClasses = opts.numClasses ?? classNames?.length ?? 2;
  classNames ??= Array.from({ length: numClasses }, (_, i) => String(i));
  while (classNames.length < numClasses) classNames.push(String(classNames.length));
  const rows: ManifestRow[] = body.map((r, k) => {
    const line = k + 2;
    const where = `${csvPath}:${line}`;
    const img = (r[iImage] ?? "").trim();
    if (!img) throw new DataError(where, "empty image path", "fill the `image` column or delete the row");
    const maskField = iMask >= 0 ? (r[iMask] ?? "").trim() : "";
    const masks = maskField ? maskField.split("|").filter((s) => s.trim()).map((s) => resolve(s, line)) : [];
    let label: number | null = null;
    const rawLabel = iLabel >= 0 ? (r[iLabel] ?? "").trim() : "";
    if (rawLabel !== "") {
      label = /^-?\d+$/.test(rawLabel) ? Number(rawLabel) : classNames!.indexOf(rawLabel);
      if (label < 0 || label >= numClasses) {
        throw new DataError(
          where,
          `label "${rawLabel}" is out of range for ${numClasses} classes (${classNames!.join(", ")})`,
          "use a class index 0..K-1 or one of the class names, or raise numClasses",
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
    return { id, image, masks, label, split, line };
  });
  if (rows.length === 0) throw new DataError(csvPath, "manifest has a header but no rows", "add one row per image");
  return { path: csvPath, root, rows, classNames };
}
