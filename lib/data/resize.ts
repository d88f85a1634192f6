/**
 * Resizing of grayscale planes: area averaging for images, nearest neighbour for masks.
 *
 * @module
 */

/** 1-D area weights: for each output index the list of (source index, weight) with weights summing to 1. */
function areaWeights(src: number, dst: number): { idx: Int32Array; w: Float32Array; start: Int32Array } {
  const r = src / dst;
  const idx: number[] = [], w: number[] = [], start: number[] = [0];
  for (let o = 0; o < dst; o++) {
    const a = o * r, b = (o + 1) * r;
    for (let s = Math.floor(a); s < Math.min(src, Math.ceil(b - 1e-9)); s++) {
      const overlap = Math.min(b, s + 1) - Math.max(a, s);
      if (overlap > 1e-12) {
        idx.push(s);
        w.push(overlap / r);
      }
    }
    start.push(idx.length);
  }
  return { idx: Int32Array.from(idx), w: Float32Array.from(w), start: Int32Array.from(start) };
}

/**
 * Resizes by area averaging (each output pixel is the mean of the source area it covers; exact for any
 * ratio, and equal to a box filter for integer ratios). Used for images.
 *
 * @example
 * ```ts
 * import { resizeArea } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const out = resizeArea(new Float32Array([0, 1, 1, 0]), 2, 2, 1, 1);
 * assert.equal(out[0], 0.5);
 * ```
 * @param data row-major source
 * @param width source width
 * @param height source height
 * @param outWidth target width
 * @param outHeight target height
 * @returns the resized plane
 */
export function resizeArea(
  data: Float32Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  if (width === outWidth && height === outHeight) return data.slice();
  const wx = areaWeights(width, outWidth), wy = areaWeights(height, outHeight);
  const tmp = new Float32Array(outWidth * height);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < outWidth; o++) {
      let acc = 0;
      for (let k = wx.start[o]; k < wx.start[o + 1]; k++) acc += data[y * width + wx.idx[k]] * wx.w[k];
      tmp[y * outWidth + o] = acc;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  for (let o = 0; o < outHeight; o++) {
    for (let k = wy.start[o]; k < wy.start[o + 1]; k++) {
      const row = wy.idx[k] * outWidth, wk = wy.w[k];
      for (let x = 0; x < outWidth; x++) out[o * outWidth + x] += tmp[row + x] * wk;
    }
  }
  return out;
}

/**
 * Nearest-neighbour resize (pixel centres), then threshold at 0.5 → {0, 1}. Used for masks.
 *
 * @example
 * ```ts
 * import { resizeMaskNearest } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const out = resizeMaskNearest(new Float32Array([1, 0, 0, 0]), 2, 2, 4, 4);
 * assert.deepEqual([out.length, out[0], out[3]], [16, 1, 0]);
 * ```
 * @param data row-major source mask
 * @param width source width
 * @param height source height
 * @param outWidth target width
 * @param outHeight target height
 * @returns a binary mask
 */
export function resizeMaskNearest(
  data: Float32Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outHeight));
    for (let x = 0; x < outWidth; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / outWidth));
      out[y * outWidth + x] = data[sy * width + sx] > 0.5 ? 1 : 0;
    }
  }
  return out;
}

/**
 * Bilinear resize with pixel-centre alignment (as `tf.image.resizeBilinear` with `halfPixelCenters`), for mapping
 * probability maps back to an image's own size.
 *
 * @example
 * ```ts
 * import { resizeBilinear } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const out = resizeBilinear(new Float32Array([0, 1]), 2, 1, 4, 1);
 * assert.deepEqual(Array.from(out), [0, 0.25, 0.75, 1]);
 * ```
 * @param data row-major source
 * @param width source width
 * @param height source height
 * @param outWidth target width
 * @param outHeight target height
 * @returns the resized plane
 */
export function resizeBilinear(
  data: Float32Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  if (width === outWidth && height === outHeight) return data.slice();
  const axis = (n: number, out: number) => {
    const i0 = new Int32Array(out), i1 = new Int32Array(out), f = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      const src = Math.min(n - 1, Math.max(0, ((o + 0.5) * n) / out - 0.5));
      i0[o] = Math.floor(src);
      i1[o] = Math.min(n - 1, i0[o] + 1);
      f[o] = src - i0[o];
    }
    return { i0, i1, f };
  };
  const ax = axis(width, outWidth), ay = axis(height, outHeight);
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const r0 = ay.i0[y] * width, r1 = ay.i1[y] * width, fy = ay.f[y];
    for (let x = 0; x < outWidth; x++) {
      const a = data[r0 + ax.i0[x]] + (data[r0 + ax.i1[x]] - data[r0 + ax.i0[x]]) * ax.f[x];
      const b = data[r1 + ax.i0[x]] + (data[r1 + ax.i1[x]] - data[r1 + ax.i0[x]]) * ax.f[x];
      out[y * outWidth + x] = a + (b - a) * fy;
    }
  }
  return out;
}
