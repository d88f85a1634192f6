/**
 * Lung mask post-processing as lung segmentation pipelines do it: keep the largest connected components (two lungs)
 * and fill the holes inside them. `predict`, `serve` and the in-browser page apply it by default (turn it off with
 * `--no-postprocess`, `postprocess: false`, or the page's checkbox).
 *
 * Components are 8-connected (a lung's thin costophrenic tip stays one piece); holes are background regions
 * (4-connected) that do not touch the image border. The second component is kept only when it holds at least
 * `minShare` of the largest one's pixels, so a stray island is not kept in place of a lung that merged with the
 * other across the mediastinum.
 *
 * @module
 */
import { resizeBilinear } from "./resize.ts";

/** Options of {@linkcode cleanMask}. */
export interface CleanMaskOptions {
  /** Components to keep at most (largest first). Default 2 (the lungs). */
  keep?: number;
  /** A component after the largest is kept only with at least this share of the largest one's area. Default 0.1. */
  minShare?: number;
  /** Fill holes (background not connected to the border). Default `true`. */
  fillHoles?: boolean;
}

/**
 * Labels the connected components of a binary mask.
 *
 * @param mask 0/1 values, row-major
 * @param width width
 * @param height height
 * @param value the value whose components are labeled (1: foreground, 0: background)
 * @param eight 8-connectivity (else 4)
 * @returns per-pixel labels (0 = not `value`, 1… = component) and each component's area by label
 */
function components(
  mask: Uint8Array,
  width: number,
  height: number,
  value: number,
  eight: boolean,
): { labels: Int32Array; areas: number[] } {
  const n = width * height;
  const labels = new Int32Array(n);
  const areas: number[] = [0];
  const queue = new Int32Array(n);
  for (let start = 0; start < n; start++) {
    if (mask[start] !== value || labels[start]) continue;
    const id = areas.length;
    let head = 0, tail = 0, area = 0;
    queue[tail++] = start;
    labels[start] = id;
    while (head < tail) {
      const i = queue[head++];
      area++;
      const x = i % width, y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          if ((!dx && !dy) || (!eight && dx && dy)) continue;
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const j = yy * width + xx;
          if (mask[j] === value && !labels[j]) {
            labels[j] = id;
            queue[tail++] = j;
          }
        }
      }
    }
    areas.push(area);
  }
  return { labels, areas };
}

/**
 * The number of 8-connected foreground pieces of a binary mask.
 *
 * @example
 * ```ts
 * import { countPieces } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(countPieces(new Uint8Array([1, 0, 1, 0, 0, 0, 1, 0, 0]), 3, 3), 3);
 * assert.equal(countPieces(new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), 3, 3), 1); // diagonal neighbours connect
 * ```
 * @param mask 0/1 values, row-major
 * @param width width
 * @param height height
 * @returns the number of pieces
 */
export function countPieces(mask: Uint8Array, width: number, height: number): number {
  return components(mask, width, height, 1, true).areas.length - 1;
}

/**
 * Keeps the largest foreground components and fills holes.
 *
 * @example
 * ```ts
 * import { cleanMask } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * // 6 × 5: a ring with a hole (left), a 2-pixel piece (right), one stray pixel (bottom right).
 * const m = Uint8Array.from([
 *   1, 1, 1, 0, 1, 1,
 *   1, 0, 1, 0, 1, 1,
 *   1, 1, 1, 0, 0, 0,
 *   0, 0, 0, 0, 0, 0,
 *   0, 0, 0, 0, 0, 1,
 * ]);
 * const c = cleanMask(m, 6, 5, { minShare: 0.2 });
 * assert.equal(c[7], 1); // the hole is filled
 * assert.equal(c[29], 0); // the stray pixel is gone
 * assert.equal(c[4], 1); // the second piece (4 px ≥ 0.2 × 8) stays
 * ```
 * @param mask 0/1 values, row-major (not changed)
 * @param width width
 * @param height height
 * @param opts components to keep, minimum share, hole filling
 * @returns a new 0/1 mask
 */
export function cleanMask(mask: Uint8Array, width: number, height: number, opts: CleanMaskOptions = {}): Uint8Array {
  const keep = opts.keep ?? 2, minShare = opts.minShare ?? 0.1;
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`cleanMask: keep must be an integer ≥ 1, got ${keep}`);
  if (mask.length !== width * height) {
    throw new RangeError(`cleanMask: ${mask.length} values for a ${width} × ${height} mask`);
  }
  const { labels, areas } = components(mask, width, height, 1, true);
  const order = areas.map((a, id) => [a, id]).slice(1).sort((a, b) => b[0] - a[0]);
  const kept = new Uint8Array(areas.length);
  order.slice(0, keep).forEach(([a, id], k) => {
    if (k === 0 || a >= minShare * order[0][0]) kept[id] = 1;
  });
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = kept[labels[i]];
  if (opts.fillHoles === false) return out;
  const bg = components(out, width, height, 0, false);
  const touches = new Uint8Array(bg.areas.length);
  for (let x = 0; x < width; x++) touches[bg.labels[x]] = touches[bg.labels[(height - 1) * width + x]] = 1;
  for (let y = 0; y < height; y++) touches[bg.labels[y * width]] = touches[bg.labels[y * width + width - 1]] = 1;
  for (let i = 0; i < out.length; i++) if (!out[i] && !touches[bg.labels[i]]) out[i] = 1;
  return out;
}

/** Options of {@linkcode lungMaskAt}. */
export interface LungMaskOptions {
  /** Lung probability at or above which a pixel is lung. Default 0.5. */
  threshold?: number;
  /** Keep the two largest components and fill holes ({@linkcode cleanMask}). Default `true`. */
  postprocess?: boolean;
}

/**
 * The binary lung mask at an image's own size from the model's probability map: bilinear resize, threshold, and
 * (by default) {@linkcode cleanMask}. `predict`, `serve` and the page all draw their masks with it.
 *
 * @example
 * ```ts
 * import { lungMaskAt } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const probs = new Float32Array(16).fill(0);
 * probs[5] = probs[6] = probs[9] = probs[10] = 1; // a 2 × 2 lung in a 4 × 4 map
 * const m = lungMaskAt(probs, 4, 8, 8);
 * assert.equal(m.length, 64);
 * assert.ok(m.some((v) => v === 1) && m.every((v) => v === 0 || v === 1));
 * ```
 * @param probs lung probabilities, `size × size`
 * @param size the map's side
 * @param width output width
 * @param height output height
 * @param opts threshold, post-processing
 * @returns 0/1 values, `width × height`
 */
export function lungMaskAt(
  probs: Float32Array,
  size: number,
  width: number,
  height: number,
  opts: LungMaskOptions = {},
): Uint8Array {
  const t = opts.threshold ?? 0.5;
  const full = size === width && size === height ? probs : resizeBilinear(probs, size, size, width, height);
  const bin = new Uint8Array(width * height);
  for (let i = 0; i < bin.length; i++) bin[i] = full[i] >= t ? 1 : 0;
  return opts.postprocess === false ? bin : cleanMask(bin, width, height);
}
