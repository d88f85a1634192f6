/**
 * Loading one image or mask file at the model size.
 *
 * @module
 */
import { type DecodedImage, decodeImageBytes } from "./decode.ts";
import { DataError } from "./errors.ts";
import { resizeMaskNearest } from "./resize.ts";
import { type LoadImageOptions, prepareImage } from "./prepare_image.ts";

export type { LoadImageOptions };
export { prepareImage };

/** Options for {@linkcode loadMask}. */
export interface LoadMaskOptions {
  /** Output is `size × size`. Default: the file's size. */
  size?: number;
  /**
   * Largest share of pixels that may be neither 0 nor the maximum before the file is rejected as "not a
   * mask" (anti-aliased edges are fine). Default 0.1.
   */
  maxGrayFraction?: number;
  /** When given, every mask file must have this width × height (the image's), else an error. */
  expectSize?: { width: number; height: number; image: string };
}

/** Limits on input files, checked before a file is read or its pixels decoded. */
export interface InputLimits {
  /** Largest file in bytes. Default 256 MiB (a 4k × 5k 16-bit DICOM is 40 MiB). */
  maxFileBytes: number;
  /** Largest width × height, read from the header before decoding. Default 64 million (8k × 8k). */
  maxPixels: number;
}

/**
 * The defaults of {@linkcode InputLimits}: they fit any real X-ray.
 *
 * @example
 * ```ts
 * import { DEFAULT_INPUT_LIMITS } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_INPUT_LIMITS.maxFileBytes, 256 * 2 ** 20); // 256 MiB
 * assert.equal(DEFAULT_INPUT_LIMITS.maxPixels, 64e6);
 * ```
 */
export const DEFAULT_INPUT_LIMITS: Readonly<InputLimits> = Object.freeze({
  maxFileBytes: 256 * 2 ** 20,
  maxPixels: 64e6,
});

let limits: InputLimits = { ...DEFAULT_INPUT_LIMITS };

/**
 * Sets the limits on input files for every later read (the CLI's `--max-file-mb` and `--max-pixels`).
 *
 * @example
 * ```ts
 * import { DEFAULT_INPUT_LIMITS, inputLimits, setInputLimits } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * setInputLimits({ maxPixels: 100e6 });
 * assert.equal(inputLimits().maxPixels, 100e6);
 * setInputLimits(DEFAULT_INPUT_LIMITS);
 * ```
 * @param l the limits to change (others keep their value)
 * @throws {RangeError} when a limit is not a positive number
 */
export function setInputLimits(l: Partial<InputLimits>): void {
  for (const [k, v] of Object.entries(l)) {
    if (!(typeof v === "number" && v > 0)) throw new RangeError(`setInputLimits: ${k} must be > 0, got ${v}`);
  }
  limits = { ...limits, ...l };
}

/**
 * The limits in effect (see {@linkcode setInputLimits}).
 *
 * @example
 * ```ts
 * import { inputLimits, setInputLimits } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const before = inputLimits();
 * setInputLimits({ maxPixels: 4096 * 4096 });
 * assert.equal(inputLimits().maxPixels, 4096 * 4096);
 * setInputLimits(before);
 * ```
 * @returns a copy of the limits
 */
export function inputLimits(): InputLimits {
  return { ...limits };
}

/**
 * Reads a file with a clear error for missing or unreadable files. Only regular files are read (a FIFO or device
 * could block or never end), up to {@linkcode InputLimits.maxFileBytes}.
 */
export function readFileChecked(path: string): Uint8Array {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      // The same name in the other Unicode normalization (macOS writes NFD, most editors NFC).
      for (const alt of [path.normalize("NFC"), path.normalize("NFD")]) {
        if (alt === path) continue;
        try {
          if (Deno.statSync(alt).isFile) return readFileChecked(alt);
        } catch { /* not there either */ }
      }
      throw new DataError(path, "file not found", "check the path in the manifest (paths are relative to the CSV)");
    }
    throw new DataError(path, `cannot read file (${(e as Error).message})`, "check its permissions");
  }
  if (!st.isFile) {
    throw new DataError(
      path,
      `not a regular file (${st.isDirectory ? "a folder" : "a FIFO, socket or device"})`,
      "point the manifest or the command at image files",
    );
  }
  if (st.size > limits.maxFileBytes) {
    throw new DataError(
      path,
      `file is ${(st.size / 2 ** 20).toFixed(1)} MiB, more than the limit of ${
        (limits.maxFileBytes / 2 ** 20).toFixed(0)
      } MiB`,
      "if it is a real image, raise the limit (--max-file-mb, or setInputLimits)",
    );
  }
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    throw new DataError(path, `cannot read file (${(e as Error).message})`, "check its permissions");
  }
}

/** Decodes a file from disk (format sniffed from its bytes), within the {@linkcode InputLimits}. */
export function decodeFile(path: string): DecodedImage {
  return decodeImageBytes(readFileChecked(path), path, { maxPixels: limits.maxPixels });
}

/**
 * Loads an image as a `size × size` plane: decode → area resize → optional CLAHE → normalization.
 *
 * @example
 * ```ts
 * import { encodeGrayPng, loadImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await Deno.writeFile(path, encodeGrayPng(new Float32Array(16).fill(0.5), 4, 4));
 * const img = loadImage(path, { size: 2 });
 * assert.equal(img.length, 4);
 * ```
 * @param path image file (PNG, JPEG or DICOM)
 * @param opts size and normalization
 * @returns row-major plane
 * @throws {DataError} for missing, empty, truncated or unsupported files
 */
export function loadImage(path: string, opts: LoadImageOptions = {}): Float32Array {
  return prepareImage(decodeFile(path), path, opts);
}

/**
 * Loads a binary mask: each file is binarized (value > 0.5 × max is lung), several files (e.g.
 * Montgomery left/right lungs) are OR-ed, then resized by nearest neighbour.
 *
 * @example
 * ```ts
 * import { encodeGrayPng, loadMask } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await Deno.writeFile(path, encodeGrayPng(new Float32Array([1, 0, 0, 1]), 2, 2));
 * assert.deepEqual(Array.from(loadMask(path)), [1, 0, 0, 1]);
 * ```
 * @param paths one mask file or several to OR together
 * @param opts size, non-binary tolerance, expected size
 * @returns binary row-major plane of 0 and 1
 * @throws {DataError} for unreadable or non-binary masks and size mismatches
 */
export function loadMask(paths: string | string[], opts: LoadMaskOptions = {}): Float32Array {
  const list = Array.isArray(paths) ? paths : [paths];
  if (list.length === 0) throw new DataError("mask", "no mask file given", "pass at least one path");
  let acc: Float32Array | undefined;
  let w = 0, h = 0;
  for (const p of list) {
    const m = decodeFile(p);
    if (opts.expectSize && (m.width !== opts.expectSize.width || m.height !== opts.expectSize.height)) {
      throw new DataError(
        p,
        `mask is ${m.width}×${m.height} but its image ${opts.expectSize.image} is ` +
          `${opts.expectSize.width}×${opts.expectSize.height}`,
        "export the mask at the image's size, or fix the manifest row",
      );
    }
    if (acc && (m.width !== w || m.height !== h)) {
      throw new DataError(
        p,
        `mask parts differ in size (${m.width}×${m.height} vs ${w}×${h})`,
        "export all parts at one size",
      );
    }
    let max = 0;
    for (const v of m.data) if (v > max) max = v;
    let gray = 0;
    const eps = 1e-6;
    for (const v of m.data) if (v > eps && v < max - eps) gray++;
    const frac = gray / m.data.length;
    if (frac > (opts.maxGrayFraction ?? 0.1)) {
      throw new DataError(
        p,
        `not a binary mask: ${(frac * 100).toFixed(1)}% of pixels are neither 0 nor the maximum`,
        "check that the manifest's mask column points at masks, not images",
      );
    }
    w = m.width;
    h = m.height;
    acc ??= new Float32Array(w * h);
    const thr = 0.5 * max;
    for (let i = 0; i < acc.length; i++) if (max > 0 && m.data[i] > thr) acc[i] = 1;
  }
  const size = opts.size ?? w;
  return resizeMaskNearest(acc!, w, h, size, size);
}
