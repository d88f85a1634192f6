/**
 * Seeded train-time augmentation. One random affine transform (rotation, shift, zoom, optional flip) is applied
 * to the image (bilinear) and to its mask (nearest), so they stay aligned; brightness/contrast touch the image
 * only. Horizontal flips are off by default: the heart and the two lungs are asymmetric.
 *
 * @module
 */
import type { Rng } from "./rng.ts";

/** Augmentation ranges. Set a range to 0 to disable that part. */
export interface AugmentOptions {
  /** Max rotation in degrees (uniform in ±). Default 7. */
  rotation?: number;
  /** Max shift as a fraction of the size (uniform in ±, per axis). Default 0.05. */
  shift?: number;
  /** Max zoom deviation (scale uniform in [1 − z, 1 + z]). Default 0.08. */
  zoom?: number;
  /** Max brightness offset (uniform in ±). Default 0.08. */
  brightness?: number;
  /** Max contrast deviation (gain uniform in [1 − c, 1 + c], around the image mean). Default 0.1. */
  contrast?: number;
  /** Horizontal flip with probability 0.5. Default `false`. */
  flip?: boolean;
  /** Clamp the image to [0, 1] after brightness/contrast. Default `true` (the dataset turns it off for z-scored images). */
  clamp?: boolean;
}

/**
 * The augmentation defaults (mild: small rotations and shifts suit frontal chest X-rays).
 *
 * @example
 * ```ts
 * import { DEFAULT_AUGMENT } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_AUGMENT.rotation, 7); // degrees, ±
 * ```
 */
export const DEFAULT_AUGMENT: Required<AugmentOptions> = {
  rotation: 7,
  shift: 0.05,
  zoom: 0.08,
  brightness: 0.08,
  contrast: 0.1,
  flip: false,
  clamp: true,
};

/**
 * Augments one image (and its mask, if any) in place of copies.
 *
 * @example
 * ```ts
 * import { augmentPair, createRng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const img = new Float32Array(16 * 16).fill(0.5);
 * const { image, mask } = augmentPair(img, null, 16, createRng(1), {});
 * assert.equal(image.length, 256);
 * assert.equal(mask, null);
 * ```
 * @param image `size × size` plane
 * @param mask matching binary mask or `null`
 * @param size side length
 * @param rng seeded random source
 * @param opts ranges (defaults in {@linkcode DEFAULT_AUGMENT})
 * @returns new arrays
 */
export function augmentPair(
  image: Float32Array,
  mask: Float32Array | null,
  size: number,
  rng: Rng,
  opts: AugmentOptions = {},
): { image: Float32Array; mask: Float32Array | null } {
  const o = { ...DEFAULT_AUGMENT, ...opts };
  const angle = (rng.uniform(-o.rotation, o.rotation) * Math.PI) / 180;
  const scale = 1 + rng.uniform(-o.zoom, o.zoom);
  const tx = rng.uniform(-o.shift, o.shift) * size, ty = rng.uniform(-o.shift, o.shift) * size;
  const flip = o.flip && rng.next() < 0.5;
  const gain = 1 + rng.uniform(-o.contrast, o.contrast);
  const bias = rng.uniform(-o.brightness, o.brightness);
  // Inverse map: output pixel → source coordinates, about the image centre.
  const c = (size - 1) / 2;
  const cos = Math.cos(angle) / scale, sin = Math.sin(angle) / scale;
  let mean = 0;
  for (const v of image) mean += v;
  mean /= image.length;
  const outImg = new Float32Array(size * size);
  const outMask = mask ? new Float32Array(size * size) : null;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx0 = (flip ? size - 1 - x : x) - c - tx, dy0 = y - c - ty;
      const sx = cos * dx0 + sin * dy0 + c;
      const sy = -sin * dx0 + cos * dy0 + c;
      // Bilinear with edge clamping (border replicate) for the image.
      const cx = Math.min(size - 1, Math.max(0, sx)), cy = Math.min(size - 1, Math.max(0, sy));
      const x0 = Math.floor(cx), y0 = Math.floor(cy);
      const x1 = Math.min(size - 1, x0 + 1), y1 = Math.min(size - 1, y0 + 1);
      const ax = cx - x0, ay = cy - y0;
      const v = (image[y0 * size + x0] * (1 - ax) + image[y0 * size + x1] * ax) * (1 - ay) +
        (image[y1 * size + x0] * (1 - ax) + image[y1 * size + x1] * ax) * ay;
      const i = y * size + x;
      const w = (v - mean) * gain + mean + bias;
      outImg[i] = o.clamp ? Math.min(1, Math.max(0, w)) : w;
      if (mask && outMask) {
        const nx = Math.round(sx), ny = Math.round(sy);
        outMask[i] = nx >= 0 && ny >= 0 && nx < size && ny < size ? mask[ny * size + nx] : 0;
      }
    }
  }
  return { image: outImg, mask: outMask };
}

/**
 * The strong augmentation of consistency training (FixMatch's "strong" view, adapted to grayscale chest X-rays):
 * a wider affine transform than {@linkcode DEFAULT_AUGMENT} (rotation ±15°, shift ±10 %, zoom ±15 %), brightness
 * ±0.2, contrast ±40 %, a random gamma in [0.6, 1.6], Gaussian noise (σ up to 0.04) and one cut-out square of 20–40 %
 * of the side filled with the image mean (DeVries & Taylor 2017). Horizontal flips stay off (chest anatomy is not
 * mirror-symmetric). Values are clamped to [0, 1] when `clamp` is true.
 *
 * @example
 * ```ts
 * import { augmentStrong, createRng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const img = new Float32Array(32 * 32).map((_, i) => (i % 32) / 31);
 * const out = augmentStrong(img, 32, createRng(3));
 * assert.equal(out.length, 32 * 32);
 * assert.ok(out.some((v, i) => v !== img[i]));
 * assert.ok(out.every((v) => v >= 0 && v <= 1));
 * ```
 * @param image `size × size` plane (not changed)
 * @param size side length
 * @param rng seeded random source
 * @param clamp clamp to [0, 1] (off for z-scored images). Default `true`.
 * @returns a new plane
 */
export function augmentStrong(image: Float32Array, size: number, rng: Rng, clamp = true): Float32Array {
  const out = augmentPair(image, null, size, rng, {
    rotation: 15,
    shift: 0.1,
    zoom: 0.15,
    brightness: 0.2,
    contrast: 0.4,
    clamp,
  }).image;
  let mean = 0;
  for (const v of out) mean += v;
  mean /= out.length;
  const gamma = Math.exp(rng.uniform(Math.log(0.6), Math.log(1.6)));
  const sigma = rng.uniform(0, 0.04);
  for (let i = 0; i < out.length; i++) {
    let v = out[i];
    if (clamp) v = Math.pow(Math.min(1, Math.max(0, v)), gamma);
    v += sigma * rng.normal();
    out[i] = clamp ? Math.min(1, Math.max(0, v)) : v;
  }
  const side = Math.max(1, Math.round(size * rng.uniform(0.2, 0.4)));
  const x0 = rng.int(size - side + 1), y0 = rng.int(size - side + 1);
  for (let y = y0; y < y0 + side; y++) out.fill(mean, y * size + x0, y * size + x0 + side);
  return out;
}
