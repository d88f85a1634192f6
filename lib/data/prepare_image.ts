/**
 * Turning a decoded image into the model's input plane: area resize to `size × size`, optional CLAHE, normalization.
 * No file access (browser-safe).
 *
 * @module
 */
import type { DecodedImage } from "./decode.ts";
import { DataError } from "./errors.ts";
import { resizeArea } from "./resize.ts";
import { clahe, zScore } from "./normalize.ts";

/** Options for `loadImage` and {@linkcode prepareImage}. */
export interface LoadImageOptions {
  /** Output is `size × size` (aspect ratio is not kept, as in the reference data). Default: the file's size (must be square). */
  size?: number;
  /** `"unit"` (default): [0, 1] as decoded. `"zscore"`: per-image (v − mean)/std after CLAHE. */
  normalize?: "unit" | "zscore";
  /** Apply CLAHE (8×8 tiles, clip 2) before normalization. Default `false`. */
  clahe?: boolean;
}

/** The shortest side an input image may have (pixels). */
const MIN_SIDE = 16;
/** The most elongated width : height (or height : width) an input image may have. */
const MAX_ASPECT = 4;

/**
 * Refuses geometry no chest X-ray has (a side under 16 pixels, or more elongated than 4:1): a model would still
 * answer, with a meaningless class and mask. `predictImage` (serve, the page) calls it, and `predict` while it reads
 * every input before writing.
 *
 * @example
 * ```ts
 * import { checkImageGeometry } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const img = (width: number, height: number) => ({ width, height, data: new Float32Array(width * height), format: "png" as const, bitDepth: 8 });
 * checkImageGeometry(img(512, 480), "ok.png");
 * assert.throws(() => checkImageGeometry(img(1, 1), "dot.png"), /dot\.png: image is 1×1 pixels, too small/);
 * assert.throws(() => checkImageGeometry(img(7999, 40), "strip.png"), /more than 4:1/);
 * ```
 * @param img the decoded image
 * @param path its name, for error messages
 * @throws {DataError} naming the file, its size and what to pass instead
 */
export function checkImageGeometry(img: Pick<DecodedImage, "width" | "height">, path: string): void {
  const short = Math.min(img.width, img.height), long = Math.max(img.width, img.height);
  if (!(short >= MIN_SIDE)) {
    throw new DataError(
      path,
      `image is ${img.width}×${img.height} pixels, too small to be a chest X-ray (at least ${MIN_SIDE} a side)`,
      "pass the full-resolution image",
    );
  }
  if (long / short > MAX_ASPECT) {
    throw new DataError(
      path,
      `image is ${img.width}×${img.height} pixels, more than ${MAX_ASPECT}:1; not a chest X-ray`,
      "pass an image of the whole chest (crop or pad it to a frontal view)",
    );
  }
}

/**
 * Resizes and normalizes an already decoded image (what `loadImage` does after reading the file). Browser-safe.
 *
 * @example
 * ```ts
 * import { decodeImageBytes, encodeGrayPng, prepareImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const img = decodeImageBytes(encodeGrayPng(new Float32Array(64 * 64).fill(0.5), 64, 64), "x.png");
 * const plane = prepareImage(img, "x.png", { size: 32 });
 * assert.equal(plane.length, 32 * 32);
 * assert.ok(Math.abs(plane[0] - 0.5) < 0.01);
 * ```
 * @param img the decoded image
 * @param path its name, for error messages
 * @param opts size and normalization
 * @returns a `size × size` plane
 * @throws {DataError} for a non-square image without `size`
 */
export function prepareImage(img: DecodedImage, path: string, opts: LoadImageOptions = {}): Float32Array {
  const size = opts.size ?? img.width;
  if (opts.size === undefined && img.width !== img.height) {
    throw new DataError(path, `image is ${img.width}×${img.height}, not square`, "pass a size to resize it");
  }
  let data = resizeArea(img.data, img.width, img.height, size, size);
  if (opts.clahe) data = clahe(data, size, size);
  if (opts.normalize === "zscore") data = zScore(data);
  return data;
}
