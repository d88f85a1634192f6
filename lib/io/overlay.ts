/**
 * Overlay images: the X-ray in gray, the predicted mask tinted red, the true mask's contour in green.
 *
 * @module
 */
import { encode } from "fast-png";
import { encodeRgbPng } from "./png.ts";

/**
 * Renders an overlay as a PNG.
 *
 * @example
 * ```ts
 * import { overlayPng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const png = overlayPng(new Float32Array(16).fill(0.5), new Float32Array(16), null, 4);
 * assert.equal(png.length > 0, true);
 * ```
 * @param image `size × height` plane in [0, 1]
 * @param pred predicted probabilities (lung at or above `threshold`), or `null`
 * @param truth true binary mask, or `null`
 * @param size width (and the height when `height` is not given)
 * @param height height. Default `size`.
 * @param threshold lung threshold. Default 0.5.
 * @returns PNG bytes
 */
export function overlayPng(
  image: Float32Array,
  pred: Float32Array | null,
  truth: Float32Array | null,
  size: number,
  height: number = size,
  threshold = 0.5,
): Uint8Array {
  const width = size;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const g = Math.round(Math.min(1, Math.max(0, image[i])) * 255);
      let r = g, gg = g, b = g;
      if (pred && pred[i] >= threshold) {
        r = Math.round(0.55 * g + 0.45 * 255);
        gg = Math.round(0.55 * g);
        b = Math.round(0.55 * g);
      }
      if (truth && truth[i] === 1) {
        const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
          truth[i - 1] !== 1 || truth[i + 1] !== 1 || truth[i - width] !== 1 || truth[i + width] !== 1;
        if (edge) [r, gg, b] = [40, 230, 60];
      }
      rgb.set([r, gg, b], i * 3);
    }
  }
  return encodeRgbPng(rgb, width, height);
}

/**
 * A mask as an 8-bit PNG (0 / 255 after thresholding at 0.5).
 *
 * @example
 * ```ts
 * import { maskPng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(maskPng(new Float32Array([0.9, 0.1, 0, 1]), 2).length > 0, true);
 * ```
 * @param pred probabilities
 * @param size width (and the height when `height` is not given)
 * @param height height. Default `size`.
 * @param threshold lung threshold. Default 0.5.
 * @returns PNG bytes
 */
export function maskPng(pred: Float32Array, size: number, height: number = size, threshold = 0.5): Uint8Array {
  const px = new Uint8Array(size * height);
  for (let i = 0; i < px.length; i++) px[i] = pred[i] >= threshold ? 255 : 0;
  return encode({ width: size, height, data: px, depth: 8, channels: 1 });
}
