/**
 * Intensity normalization: per-image z-score and CLAHE (contrast-limited adaptive histogram equalization).
 *
 * @module
 */

/**
 * Per-image z-score: (v − mean) / std (std floored at 1e-6). Values are no longer in [0, 1].
 *
 * @example
 * ```ts
 * import { zScore } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const z = zScore(new Float32Array([0, 1]));
 * assert.ok(Math.abs(z[0] + 1) < 1e-5 && Math.abs(z[1] - 1) < 1e-5);
 * ```
 * @param data plane in any range
 * @returns a new normalized plane
 */
export function zScore(data: Float32Array): Float32Array {
  let mean = 0;
  for (const v of data) mean += v;
  mean /= data.length;
  let varSum = 0;
  for (const v of data) varSum += (v - mean) ** 2;
  const std = Math.max(Math.sqrt(varSum / data.length), 1e-6);
  return data.map((v) => (v - mean) / std);
}

/** Options for {@linkcode clahe}. */
export interface ClaheOptions {
  /** Tiles per side. Default 8 (as OpenCV). */
  tiles?: number;
  /** Clip limit as a multiple of the mean bin count. Default 2 (as OpenCV's clipLimit). */
  clipLimit?: number;
  /** Histogram bins. Default 256. */
  bins?: number;
}

/**
 * CLAHE (Zuiderveld 1994) on a [0, 1] plane: per-tile clipped histogram equalization with bilinear
 * interpolation between tile mappings. Off by default in the pipeline.
 *
 * @example
 * ```ts
 * import { clahe } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const out = clahe(new Float32Array(64 * 64).map((_, i) => (i % 64) / 128), 64, 64);
 * assert.equal(out.length, 4096);
 * ```
 * @param data plane in [0, 1]
 * @param width plane width
 * @param height plane height
 * @param opts tiles, clip limit, bins
 * @returns the equalized plane in [0, 1]
 */
export function clahe(data: Float32Array, width: number, height: number, opts: ClaheOptions = {}): Float32Array {
  const tiles = opts.tiles ?? 8, clip = opts.clipLimit ?? 2, bins = opts.bins ?? 256;
  const tw = width / tiles, th = height / tiles;
  const maps: Float32Array[] = [];
  const bin = (v: number) => Math.min(bins - 1, Math.max(0, Math.floor(v * bins)));
  for (let ty = 0; ty < tiles; ty++) {
    for (let tx = 0; tx < tiles; tx++) {
      const hist = new Float64Array(bins);
      const x0 = Math.floor(tx * tw), x1 = Math.max(x0 + 1, Math.floor((tx + 1) * tw));
      const y0 = Math.floor(ty * th), y1 = Math.max(y0 + 1, Math.floor((ty + 1) * th));
      let count = 0;
      for (let y = y0; y < Math.min(y1, height); y++) {
        for (let x = x0; x < Math.min(x1, width); x++) {
          hist[bin(data[y * width + x])]++;
          count++;
        }
      }
      const limit = Math.max(1, (clip * count) / bins);
      let excess = 0;
      for (let b = 0; b < bins; b++) {
        if (hist[b] > limit) {
          excess += hist[b] - limit;
          hist[b] = limit;
        }
      }
      const map = new Float32Array(bins);
      let cum = 0;
      for (let b = 0; b < bins; b++) {
        cum += hist[b] + excess / bins;
        map[b] = count > 0 ? cum / count : b / (bins - 1);
      }
      maps.push(map);
    }
  }
  const out = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(tiles - 1, Math.max(0, (y + 0.5) / th - 0.5));
    const ty0 = Math.floor(fy), ty1 = Math.min(tiles - 1, ty0 + 1), ay = fy - ty0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(tiles - 1, Math.max(0, (x + 0.5) / tw - 0.5));
      const tx0 = Math.floor(fx), tx1 = Math.min(tiles - 1, tx0 + 1), ax = fx - tx0;
      const b = bin(data[y * width + x]);
      const top = maps[ty0 * tiles + tx0][b] * (1 - ax) + maps[ty0 * tiles + tx1][b] * ax;
      const bot = maps[ty1 * tiles + tx0][b] * (1 - ax) + maps[ty1 * tiles + tx1][b] * ax;
      out[y * width + x] = top * (1 - ay) + bot * ay;
    }
  }
  return out;
}
