/**
 * `prepare`: turns a folder of public Montgomery / Shenzhen downloads (PNG images, masks in side folders,
 * labels in the `_0` / `_1` file-name suffix) into a manifest CSV with images and masks at a chosen size.
 *
 * @module
 */
import * as path from "node:path";
import { encodeGrayPng } from "../io/png.ts";
import { stratifiedSplit } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { decodeFile, loadMask } from "./load.ts";
import { resizeArea } from "./resize.ts";
import { describeOsError, writeFileAtomically } from "../io/fs.ts";

/** Options for {@linkcode prepareDataset}. */
export interface PrepareOptions {
  /** Folder of X-ray images (`*.png`, `*.jpg`, `*.dcm`); the label is the `_0`/`_1` suffix of the name. */
  images: string;
  /**
   * Mask folders: a mask is found by the image's base name (any image extension) in each folder, and the
   * masks found are OR-ed (Montgomery's `leftMask/` and `rightMask/`; Shenzhen's single `mask/` folder, whose
   * files may end in `_mask.png`).
   */
  masks?: string[];
  /** Output folder (gets `images/`, `masks/`, `manifest.csv`). */
  out: string;
  /** Output size. Default 256. */
  size?: number;
  /** Split seed. Default 0. */
  seed?: number;
}

/**
 * Writes a prepared dataset and returns the manifest path.
 *
 * @example
 * ```ts
 * import { encodeGrayPng, prepareDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const src = await Deno.makeTempDir();
 * await Deno.writeFile(`${src}/CASE_0001_1.png`, encodeGrayPng(new Float32Array(64).fill(0.5), 8, 8));
 * const out = await Deno.makeTempDir();
 * const csv = await prepareDataset({ images: src, out, size: 4 });
 * assert.ok(csv.endsWith("manifest.csv"));
 * // The output may not overlap the inputs (it would replace the originals).
 * await assert.rejects(prepareDataset({ images: src, out: `${src}/out` }), /overlaps the input folder/);
 * ```
 * @param o source folders, output folder, size
 * @returns the manifest path
 * @throws {DataError} for a missing folder, no images, a name without `_0`/`_1`, or an output folder that overlaps
 * an input folder
 */
export async function prepareDataset(o: PrepareOptions): Promise<string> {
  // Long: checks of the folders, then one pass writing images, masks and the manifest.
  const size = o.size ?? 256;
  const list = (dir: string) => {
    try {
      return [...Deno.readDirSync(dir)].filter((e) => e.isFile && /\.(png|jpe?g|dcm)$/i.test(e.name)).map((e) => e.name)
        .sort();
    } catch {
      throw new DataError(dir, "folder not found or unreadable", "pass the folder that holds the downloaded files");
    }
  };
  // The output may not overlap an input: writing into (or around) the originals would replace them with copies.
  const real = (p: string) => {
    try {
      return Deno.realPathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const inside = (a: string, b: string) => {
    const rel = path.relative(b, a);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  };
  const outReal = real(o.out);
  for (const dir of [o.images, ...(o.masks ?? [])]) {
    const d = real(dir);
    if (inside(outReal, d) || inside(d, outReal)) {
      throw new DataError(
        o.out,
        `the output folder overlaps the input folder ${dir}`,
        "choose an --out outside the downloaded folders (and not a parent of them)",
      );
    }
  }
  const names = list(o.images);
  if (names.length === 0) {
    throw new DataError(o.images, "no PNG/JPEG/DICOM files", "point --images at the image folder");
  }
  const maskIndex = (o.masks ?? []).map((dir) => {
    const m = new Map<string, string>();
    for (const n of list(dir)) m.set(n.replace(/\.[^.]+$/, "").replace(/_mask$/, ""), path.join(dir, n));
    return m;
  });
  // The images and masks are written first and manifest.csv, atomically, last: a run stopped by an error (a full
  // disk) leaves no manifest, so nothing reads a half-prepared folder; the next run rewrites it.
  const write = (file: string, bytes: Uint8Array) =>
    Deno.writeFile(file, bytes).catch((e) => {
      throw describeOsError(e, `--out ${o.out}`, `write ${file} (no manifest.csv was written)`);
    });
  await Deno.mkdir(path.join(o.out, "images"), { recursive: true }).catch((e) => {
    throw describeOsError(e, `--out ${o.out}`, "create the output folder");
  });
  await Deno.mkdir(path.join(o.out, "masks"), { recursive: true });
  const rows: { id: string; label: number; masks: string[] }[] = [];
  for (const n of names) {
    const id = n.replace(/\.[^.]+$/, "");
    const m = id.match(/_([01])$/);
    if (!m) {
      throw new DataError(
        path.join(o.images, n),
        'name does not end in "_0" or "_1" (the label)',
        "rename it or leave it out",
      );
    }
    const img = decodeFile(path.join(o.images, n));
    await write(
      path.join(o.out, "images", `${id}.png`),
      encodeGrayPng(resizeArea(img.data, img.width, img.height, size, size), size, size),
    );
    const found = maskIndex.map((idx) => idx.get(id)).filter((p): p is string => !!p);
    if (found.length) {
      const mask = loadMask(found, {
        size,
        expectSize: { width: img.width, height: img.height, image: path.join(o.images, n) },
      });
      await write(path.join(o.out, "masks", `${id}.png`), encodeGrayPng(mask, size, size));
    }
    rows.push({ id, label: Number(m[1]), masks: found.length ? [`masks/${id}.png`] : [] });
  }
  const splits = stratifiedSplit(rows, o.seed ?? 0);
  // RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled (file names may hold any of them).
  const field = (v: string | number) => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = ["id,image,mask,label,label_name,split"];
  rows.forEach((r, i) =>
    lines.push(
      [r.id, `images/${r.id}.png`, r.masks[0] ?? "", r.label, r.label ? "tb" : "normal", splits[i]].map(field).join(
        ",",
      ),
    )
  );
  const csv = path.join(o.out, "manifest.csv");
  await writeFileAtomically(csv, lines.join("\n") + "\n", `--out ${o.out}`);
  return csv;
}
