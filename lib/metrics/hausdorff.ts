/**
 * Surface distances between two binary masks, as MONAI's `compute_hausdorff_distance(percentile=95)` and the lung
 * segmentation literature report them: the boundary pixels of each mask (foreground pixels with a 4-neighbour in the
 * background or on the image edge), the distance of each to the nearest boundary pixel of the other mask (an exact
 * Euclidean distance transform, Felzenszwalb & Huttenlocher 2012), the 95th percentile (linear interpolation, as
 * `numpy.percentile`) of each direction, and the larger of the two. Distances are in pixels of the masks' grid, or in
 * millimetres with the pixel spacing (e.g. a DICOM's Pixel Spacing).
 *
 * @module
 */

/** Options of {@linkcode hausdorffDistance}. */
export interface HausdorffOptions {
  /** Percentile of the directed surface distances, in (0, 100]. Default 95 (HD95); 100 is the Hausdorff distance. */
  percentile?: number;
  /** Pixel spacing `[row, column]` (e.g. millimetres). Default `[1, 1]` (pixels). */
  spacing?: [number, number];
}

function boundary(mask: ArrayLike<number>, width: number, height: number): Uint8Array {
  const b = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!(mask[i] >= 0.5)) continue;
      b[i] = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !(mask[i - 1] >= 0.5) ||
          !(mask[i + 1] >= 0.5) || !(mask[i - width] >= 0.5) || !(mask[i + width] >= 0.5)
        ? 1
        : 0;
    }
  }
  return b;
}

/** Squared Euclidean distance transform of a 1-D sampled function (Felzenszwalb & Huttenlocher), step `s`. */
function edt1d(f: Float64Array, n: number, s: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  const s2 = s * s;
  for (let q = 1; q < n; q++) {
    if (f[q] === Infinity) continue;
    if (f[v[0]] === Infinity) {
      v[0] = q;
      continue;
    }
    let sv = ((f[q] + s2 * q * q) - (f[v[k]] + s2 * v[k] * v[k])) / (2 * s2 * (q - v[k]));
    while (sv <= z[k]) {
      k--;
      sv = ((f[q] + s2 * q * q) - (f[v[k]] + s2 * v[k] * v[k])) / (2 * s2 * (q - v[k]));
    }
    k++;
    v[k] = q;
    z[k] = sv;
    z[k + 1] = Infinity;
  }
  if (f[v[0]] === Infinity) {
    d.fill(Infinity, 0, n);
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = s2 * (q - v[k]) ** 2 + f[v[k]];
  }
}

/** Squared distance of every pixel to the nearest set pixel of `set`, with spacing `[sy, sx]`. */
function squaredDistanceTo(set: Uint8Array, width: number, height: number, sy: number, sx: number): Float64Array {
  const n = Math.max(width, height);
  const f = new Float64Array(n), d = new Float64Array(n), z = new Float64Array(n + 1);
  const v = new Int32Array(n);
  const out = new Float64Array(width * height);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = set[y * width + x] ? 0 : Infinity;
    edt1d(f, height, sy, d, v, z);
    for (let y = 0; y < height; y++) out[y * width + x] = d[y];
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) f[x] = out[y * width + x];
    edt1d(f, width, sx, d, v, z);
    for (let x = 0; x < width; x++) out[y * width + x] = d[x];
  }
  return out;
}

function percentileOf(values: number[], p: number): number {
  const s = values.slice().sort((a, b) => a - b);
  const r = (p / 100) * (s.length - 1);
  const lo = Math.floor(r), hi = Math.ceil(r);
  return s[lo] + (s[hi] - s[lo]) * (r - lo);
}

/**
 * The symmetric percentile Hausdorff distance (HD95 by default) between two binary masks of the same grid.
 *
 * @example
 * ```ts
 * import { hausdorffDistance } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * // Two 4 × 4 squares in a 10 × 10 grid, one shifted 2 pixels right: every boundary point is within 2 px.
 * const sq = (x0: number) => Array.from({ length: 100 }, (_, i) => (i % 10 >= x0 && i % 10 < x0 + 4 && i >= 30 && i < 70 ? 1 : 0));
 * assert.equal(hausdorffDistance(sq(2), sq(4), 10, 10, { percentile: 100 }), 2);
 * assert.equal(hausdorffDistance(sq(2), sq(2), 10, 10), 0);
 * assert.equal(hausdorffDistance(sq(2), sq(4), 10, 10, { percentile: 100, spacing: [1, 0.5] }), 1); // mm
 * ```
 * @param a first mask (values ≥ 0.5 are foreground), row-major
 * @param b second mask
 * @param width grid width
 * @param height grid height
 * @param opts percentile, spacing
 * @returns the distance; 0 when both are empty, `Infinity` when exactly one is
 */
export function hausdorffDistance(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  width: number,
  height: number,
  opts: HausdorffOptions = {},
): number {
  const p = opts.percentile ?? 95;
  const [sy, sx] = opts.spacing ?? [1, 1];
  if (!(p > 0 && p <= 100)) throw new RangeError(`hausdorffDistance: percentile must be in (0, 100], got ${p}`);
  if (!(sy > 0 && sx > 0)) throw new RangeError(`hausdorffDistance: spacing must be > 0, got [${sy}, ${sx}]`);
  if (a.length !== width * height || b.length !== width * height) {
    throw new RangeError(
      `hausdorffDistance: masks of ${a.length} and ${b.length} values for a ${width} × ${height} grid`,
    );
  }
  const ea = boundary(a, width, height), eb = boundary(b, width, height);
  const na = ea.reduce((s, v) => s + v, 0), nb = eb.reduce((s, v) => s + v, 0);
  if (!na && !nb) return 0;
  if (!na || !nb) return Infinity;
  const directed = (from: Uint8Array, toDist: Float64Array) => {
    const ds: number[] = [];
    for (let i = 0; i < from.length; i++) if (from[i]) ds.push(Math.sqrt(toDist[i]));
    return percentileOf(ds, p);
  };
  const da = squaredDistanceTo(eb, width, height, sy, sx), db = squaredDistanceTo(ea, width, height, sy, sx);
  return Math.max(directed(ea, da), directed(eb, db));
}
