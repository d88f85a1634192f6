import assert from "node:assert/strict";
import { cleanMask, countPieces, createRng, hausdorffDistance, lungMaskAt } from "../mod.ts";

Deno.test("cleanMask keeps the two largest pieces (the second only when large enough) and fills holes", () => {
  const w = 20, h = 10;
  const m = new Uint8Array(w * h);
  const rect = (x0: number, y0: number, x1: number, y1: number, v = 1) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = v;
  };
  rect(1, 1, 8, 9); // left lung, 56 px less a 4-px hole
  rect(3, 3, 5, 5, 0); // a hole in it
  rect(11, 1, 17, 9); // right lung, 48 px
  rect(18, 0, 19, 1); // an island
  assert.equal(countPieces(m, w, h), 3);
  const c = cleanMask(m, w, h);
  assert.equal(countPieces(c, w, h), 2);
  assert.equal(c[3 * w + 3], 1, "hole not filled");
  assert.equal(c[18], 0, "island kept");
  // A second piece under minShare of the largest is dropped.
  const one = cleanMask(m, w, h, { minShare: 0.95 }); // 48 / 52 < 0.95
  assert.equal(countPieces(one, w, h), 1);
  // Without hole filling the hole stays.
  assert.equal(cleanMask(m, w, h, { fillHoles: false })[3 * w + 3], 0);
  // A hole open to the border is background, not a hole.
  const open = new Uint8Array(9).fill(1);
  open[1] = open[4] = 0;
  assert.equal(cleanMask(open, 3, 3)[4], 0);
  assert.throws(() => cleanMask(m, 3, 3), /200 values for a 3 × 3/);
});

Deno.test("lungMaskAt: the predict/serve/page mask, with and without post-processing", () => {
  const size = 16;
  const probs = new Float32Array(size * size);
  for (let y = 2; y < 14; y++) for (let x = 2; x < 7; x++) probs[y * size + x] = 0.9;
  for (let y = 2; y < 14; y++) for (let x = 9; x < 14; x++) probs[y * size + x] = 0.9;
  probs[8 * size + 4] = 0.1; // a hole
  probs[0] = 0.9; // an island
  const raw = lungMaskAt(probs, size, 32, 32, { postprocess: false });
  const clean = lungMaskAt(probs, size, 32, 32);
  assert.equal(countPieces(raw, 32, 32), 3);
  assert.equal(countPieces(clean, 32, 32), 2);
  assert.ok(clean.reduce((a, b) => a + b, 0) >= raw.reduce((a, b) => a + b, 0) - 8);
});

/** Brute force: every boundary pixel against every boundary pixel of the other mask. */
function bruteHd(a: Uint8Array, b: Uint8Array, w: number, h: number, p: number): number {
  const edge = (m: Uint8Array) => {
    const pts: [number, number][] = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!m[y * w + x]) continue;
        const bg = (xx: number, yy: number) => xx < 0 || yy < 0 || xx >= w || yy >= h || !m[yy * w + xx];
        if (bg(x - 1, y) || bg(x + 1, y) || bg(x, y - 1) || bg(x, y + 1)) pts.push([y, x]);
      }
    }
    return pts;
  };
  const ea = edge(a), eb = edge(b);
  const directed = (from: [number, number][], to: [number, number][]) => {
    const d = from.map(([y, x]) => Math.min(...to.map(([v, u]) => Math.hypot(y - v, x - u)))).sort((s, t) => s - t);
    const r = (p / 100) * (d.length - 1), lo = Math.floor(r), hi = Math.ceil(r);
    return d[lo] + (d[hi] - d[lo]) * (r - lo);
  };
  return Math.max(directed(ea, eb), directed(eb, ea));
}

Deno.test("HD95 equals a brute-force computation on random blobs; empty masks give 0 or Infinity", () => {
  const rng = createRng(11);
  const w = 24, h = 20;
  for (let t = 0; t < 6; t++) {
    const blob = () => {
      const m = new Uint8Array(w * h);
      const cx = rng.uniform(6, 18), cy = rng.uniform(5, 15), r = rng.uniform(3, 7);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[y * w + x] = Math.hypot(x - cx, y - cy) < r ? 1 : 0;
      m[rng.int(w * h)] = 1; // an outlier pixel
      return m;
    };
    const a = blob(), b = blob();
    for (const p of [95, 100]) {
      const got = hausdorffDistance(a, b, w, h, { percentile: p }), want = bruteHd(a, b, w, h, p);
      assert.ok(Math.abs(got - want) < 1e-9, `trial ${t}, p ${p}: ${got} vs ${want}`);
    }
  }
  const empty = new Uint8Array(w * h), one = new Uint8Array(w * h);
  one[50] = 1;
  assert.equal(hausdorffDistance(empty, empty, w, h), 0);
  assert.equal(hausdorffDistance(empty, one, w, h), Infinity);
  assert.throws(() => hausdorffDistance(one, one, w, h, { percentile: 0 }), /percentile/);
});

Deno.test("a DICOM's pixel spacing is read (Pixel Spacing, row then column) and HD95 takes it for millimetres", async () => {
  const { decodeImageBytes } = await import("../mod.ts");
  const { writeDicom } = await import("../fixtures/loader_fixtures.ts");
  const pixels = new Uint16Array(32 * 32).map((_, i) => i % 4096);
  const dicom = (pixelSpacing?: [number, number]) =>
    writeDicom({
      rows: 32,
      cols: 32,
      pixels,
      bitsAllocated: 16,
      bitsStored: 12,
      photometric: "MONOCHROME2",
      pixelSpacing,
    });
  assert.deepEqual(decodeImageBytes(dicom([0.143, 0.139]), "x.dcm").pixelSpacing, [0.143, 0.139]);
  const none = dicom();
  assert.equal(decodeImageBytes(none, "y.dcm").pixelSpacing, undefined);
  // Anisotropic spacing: 2 columns apart at 0.5 mm a column is 1 mm.
  const sq = (x0: number) =>
    Array.from({ length: 100 }, (_, i) => (i % 10 >= x0 && i % 10 < x0 + 4 && i >= 30 && i < 70 ? 1 : 0));
  assert.equal(hausdorffDistance(sq(2), sq(4), 10, 10, { percentile: 100, spacing: [0.143, 0.5] }), 1);
});
