/**
 * Winograd convolution F(m×m, 3×3), m = 4 (default) or 2, for the tfjs `webgpu` backend (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", CVPR 2016, arXiv 1509.09308). It takes every 3×3 stride-1
 * convolution of S's encoder and decoder (channel counts multiples of 4, ≥ 8) and both of its gradients:
 *
 * - forward: U = G g Gᵀ (filter), V = Bᵀ d B (each n×n input tile, n = m + 2, zero outside the image),
 *   M[p] = V[p] · U[p] for the n² positions p (a batched product, register-tiled like the direct kernels: 8 tiles ×
 *   8 channels per invocation), Y = Aᵀ M A (+ bias, relu) per tile: 4 dispatches.
 * - input gradient: the same algorithm on dy with the filter rotated by 180° and its channel axes swapped, padded by
 *   2 − (forward padding).
 * - filter gradient: with the forward tile Aᵀ (U ⊙ V) A, dL/dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ V] G: V of x, A dy Aᵀ of
 *   each m×m tile of dy, a per-position reduction over the tiles (split over chunks of tiles for parallelism), and
 *   one final transform that also sums the chunks. While tfjs records gradients, the forward keeps its V (up to
 *   256 MiB in all, released with the input's data) so the filter gradient does not transform x again.
 *
 * F(4×4, 3×3) does 36 multiplies per 16 outputs where a direct 3×3 convolution does 144 (F(2×2): 16 per 4); on
 * lavapipe the products run at about the direct kernels' GFLOP/s, and the transforms (memory passes over 2.25× the
 * activation size, 4× for F(2×2)) cost the rest: 1.15–2.7× (wall clock; 1.0–3.0× by kernel time) faster than the
 * direct kernels on S's shapes, most on the deep layers (bench/README.md). The transforms hold their data as `vec4<f32>` arrays (4 channels per load): fewer,
 * larger loads make the shaders compile in about half the time. Accuracy on our shapes: ≈ 1e-6–1e-5 of the output's
 * magnitude for F(4×4), ≈ 3e-7–4e-6 for F(2×2) (tests require 1e-4). `APPAUNET_WINOGRAD=0|2|4` or
 * {@linkcode useWinograd} switch it off or pick m; with it off the direct kernels of `webgpu_conv.ts` take these
 * shapes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { backend_util } from "@tensorflow/tfjs";
import {
  dataVersion,
  flatProgramWith,
  kernelEnv,
  runProgram,
  vec4Buffers,
  type WebGpuBackendLike,
  type WgslSource,
} from "./webgpu_program.ts";
import { fastConvEligible, type FusedActivation } from "./webgpu_conv.ts";

type ConvInfo = ReturnType<typeof backend_util.computeConv2DInfo>;

/** Geometry of one Winograd correlation: input `[N, H, W, K]` → output `[N, OH, OW, C]`, padding PT/PL. */
interface Geometry {
  N: number;
  H: number;
  W: number;
  K: number;
  OH: number;
  OW: number;
  C: number;
  PT: number;
  PL: number;
}

const PRELUDE = `
    let N = uniforms.g0.x; let H = uniforms.g0.y; let W = uniforms.g0.z; let K = uniforms.g0.w;
    let OH = uniforms.g1.x; let OW = uniforms.g1.y; let C = uniforms.g1.z; let PT = uniforms.g1.w;
    let PL = uniforms.g2.x; let TH = uniforms.g2.y; let TW = uniforms.g2.z; let T = uniforms.g2.w;
    let E0 = uniforms.g3.x; let E1 = uniforms.g3.y; let E2 = uniforms.g3.z;`;

const UNIFORMS = "g0 : vec4<i32>, g1 : vec4<i32>, g2 : vec4<i32>, g3 : vec4<i32>,";

/** Output tile side m of F(m×m, 3×3), or 0 when off; from `APPAUNET_WINOGRAD` (`0`, `2` or `4`; default 4). */
function envTile(): 0 | 2 | 4 {
  const v = kernelEnv("APPAUNET_WINOGRAD");
  return v === "0" ? 0 : v === "2" ? 2 : 4;
}

let tile: 0 | 2 | 4 = envTile();

/**
 * Turns the Winograd path on or off and picks its output tile (on with F(4×4, 3×3) by default;
 * `APPAUNET_WINOGRAD=0|2|4` sets the starting value). With it off, the direct kernels of `webgpu_conv.ts` run these
 * convolutions; benchmarks and tests use this to compare the two. F(4×4, 3×3) does 4× fewer multiplies than a direct
 * 3×3 convolution and writes 2.25× the activation size between passes; F(2×2, 3×3) does 2.25× fewer and writes 4×,
 * but is the more accurate of the two (≈ 3e-7 vs ≈ 3e-6 of the output's magnitude on our shapes).
 *
 * @example
 * ```ts
 * import { useWinograd } from "./webgpu_winograd.ts";
 * useWinograd(false); // direct kernels only
 * useWinograd(true, 2); // F(2×2, 3×3)
 * useWinograd(true); // back to the default, F(4×4, 3×3)
 * ```
 *
 * @param enabled whether eligible 3×3 stride-1 convolutions use Winograd
 * @param outputTile m of F(m×m, 3×3): 4 (default) or 2
 */
export function useWinograd(enabled: boolean, outputTile: 2 | 4 = 4): void {
  if (outputTile !== 2 && outputTile !== 4) {
    throw new RangeError(`useWinograd: outputTile must be 2 or 4, got ${outputTile}`);
  }
  tile = enabled ? outputTile : 0;
}

/**
 * The Winograd output tile in use: 4 or 2 (F(m×m, 3×3)), 0 when the Winograd path is off.
 *
 * @example
 * ```ts
 * import { winogradOutputTile } from "./webgpu_winograd.ts";
 * console.log(winogradOutputTile()); // 4 unless APPAUNET_WINOGRAD says otherwise
 * ```
 *
 * @returns m, or 0
 */
export function winogradOutputTile(): 0 | 2 | 4 {
  return tile;
}

/**
 * Whether a convolution takes the Winograd path: NHWC, 3×3, stride 1, no dilation, channel counts that are
 * multiples of 4 and at least 8 on both sides (smaller ones, e.g. the 1-channel pyramid inputs, stay direct).
 *
 * @param info convolution geometry (of the forward convolution)
 * @returns true when {@linkcode conv2dWinogradWebGpu} and {@linkcode conv2dBackpropInputWinogradWebGpu} apply
 */
export function winogradEligible(info: ConvInfo): boolean {
  return tile !== 0 && fastConvEligible(info) && info.filterHeight === 3 && info.filterWidth === 3 &&
    info.strideHeight === 1 && info.strideWidth === 1 && info.inChannels % 4 === 0 && info.outChannels % 4 === 0 &&
    info.inChannels >= 8 && info.outChannels >= 8;
}

/** The geometry of the forward convolution itself. */
function forwardGeometry(info: ConvInfo): Geometry {
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    K: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    C: info.outChannels,
    PT: info.padInfo.top,
    PL: info.padInfo.left,
  };
}

function tiles(g: Geometry, m: number) {
  const TH = Math.ceil(g.OH / m), TW = Math.ceil(g.OW / m);
  return { TH, TW, T: g.N * TH * TW };
}

function uniforms(g: Geometry, e0: number, m: number, e1 = 0, e2 = 0) {
  const { TH, TW, T } = tiles(g, m);
  return [
    [g.N, g.H, g.W, g.K],
    [g.OH, g.OW, g.C, g.PT],
    [g.PL, TH, TW, T],
    [e0, e1, e2, 0],
  ].map((data) => ({ type: "int32", data }));
}

const program = flatProgramWith(UNIFORMS, PRELUDE);

/** One Winograd algorithm F(m×m, 3×3): tile side n = m + 2, transforms Bᵀ (n×n), G (n×3), Aᵀ (m×n). */
interface Variant {
  m: number;
  bt: number[][];
  g: number[][];
  at: number[][];
}

/** F(2×2, 3×3) (Lavin & Gray, eq. 7–8): interpolation points 0, ±1, ∞. */
const F2: Variant = {
  m: 2,
  bt: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  g: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  at: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

/** F(4×4, 3×3) (Lavin & Gray, §4.2): interpolation points 0, ±1, ±2, ∞. */
const F4: Variant = {
  m: 4,
  bt: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  g: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  at: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

/** The algorithm in use (callers check {@linkcode winogradEligible} first, so the path is on). */
function variant(): Variant {
  return tile === 2 ? F2 : F4;
}

/** vec4 channel groups per register tile along a channel axis: 2 (8 channels) when the count allows, else 1. */
function groups(channels: number): 1 | 2 {
  return channels % 8 === 0 ? 2 : 1;
}

/** WGSL expressions of `mat · xs` (one per row), zero coefficients skipped. */
function lin(mat: number[][], xs: string[]): string[] {
  return mat.map((row) => {
    const terms = row.flatMap((c, i) => {
      if (c === 0) return [];
      const mag = Math.abs(c) === 1 ? xs[i] : `${Math.abs(c).toPrecision(9)} * ${xs[i]}`;
      return [`${c < 0 ? "-" : "+"} ${mag}`];
    });
    const e = terms.join(" ");
    return e.startsWith("+ ") ? e.slice(2) : `0.0 ${e}`;
  });
}

const range = (n: number) => [...Array(n).keys()];

/**
 * WGSL of the separable 2-D transform `mat · S · matᵀ` of the values `${src}{i}_{j}` (i, j < the width of `mat`): `let`
 * bindings of the column pass (`${tmp}{a}_{j}`), then `emit(a, b, expr)` for every output (a, b < the height of `mat`).
 */
function transform2d(
  mat: number[][],
  src: string,
  tmp: string,
  emit: (a: number, b: number, expr: string) => string,
): string {
  const k = range(mat[0].length), r = range(mat.length);
  const columns = k.map((j) =>
    lin(mat, k.map((i) => `${src}${i}_${j}`)).map((e, a) => `let ${tmp}${a}_${j} = ${e};`).join(" ")
  );
  const rows = r.map((a) => lin(mat, k.map((j) => `${tmp}${a}_${j}`)).map((e, b) => emit(a, b, e)).join(" "));
  return [...columns, ...rows].join("\n    ");
}

/**
 * U = G g Gᵀ for every (k, c): `[n², K, C]`. `flipped`: g is the input-gradient filter, `g[i][j][k][c] =
 * w[2-i][2-j][c][k]` of the forward filter w `[3, 3, C, K]`.
 */
function filterTransform(
  backend: WebGpuBackendLike,
  filter: tf.TensorInfo,
  g: Geometry,
  flipped: boolean,
  f: Variant,
) {
  const n = f.m + 2, r3 = range(3);
  const load = (i: number, j: number) =>
    flipped ? `w[((${(2 - i) * 3 + 2 - j} * C + c) * K + k)]` : `w[((${i * 3 + j} * K + k) * C + c)]`;
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    let c = index % C;
    let k = index / C;
    ${r3.flatMap((i) => r3.map((j) => `let g${i}_${j} = ${load(i, j)};`)).join(" ")}
    ${transform2d(f.g, "g", "h", (a, b, e) => `result[(${n * a + b} * K + k) * C + c] = ${e};`)}
  }`;
  const size = g.K * g.C;
  return runProgram(
    backend,
    program(`appaunet_wino${f.m}_u_${flipped}`, [n * n, g.K, g.C], ["w"], size, code),
    [filter],
    "float32",
    uniforms(g, size, f.m),
  );
}

/** WGSL opening of the per-tile kernels: `index` → channel group `q` of `Q = channels / 4`, tile `t` = (nn, th, tw). */
function tileMain(channels: string, Q: string, q: string): string {
  return `
  fn main(index : i32) {
    if (index >= E0) { return; }
    let ${Q} = ${channels} / 4;
    let ${q} = index % ${Q};
    let t = index / ${Q};
    let tw = t % TW;
    let th = (t / TW) % TH;
    let nn = t / (TW * TH);`;
}

/** Runs a per-tile program (one invocation per tile and 4 channels of `channels`; every buffer typed `vec4<f32>`). */
function runPerTile(
  backend: WebGpuBackendLike,
  key: string,
  outputShape: number[],
  names: string[],
  inputs: tf.TensorInfo[],
  channels: number,
  code: WgslSource,
  g: Geometry,
  f: Variant,
): tf.TensorInfo {
  const size = tiles(g, f.m).T * channels / 4;
  const components = vec4Buffers(names.length);
  return runProgram(
    backend,
    program(key, outputShape, names, size, code, components),
    inputs,
    "float32",
    uniforms(g, size, f.m),
  );
}

/** V = Bᵀ d B of every n×n input tile, 4 channels per invocation: `[n², T, K]`. */
function inputTransform(backend: WebGpuBackendLike, x: tf.TensorInfo, g: Geometry, f: Variant) {
  const n = f.m + 2, rn = range(n);
  const code = () =>
    `${tileMain("K", "KQ", "kq")}
    let ih0 = ${f.m} * th - PT;
    let iw0 = ${f.m} * tw - PL;
    ${
      rn.map((i) => `let okr${i} = ih0 + ${i} >= 0 && ih0 + ${i} < H; let okc${i} = iw0 + ${i} >= 0 && iw0 + ${i} < W;`)
        .join("\n    ")
    }
    ${
      rn.flatMap((i) =>
        rn.map((j) =>
          `let d${i}_${j} = select(vec4<f32>(0.0), x[select(0, ((nn * H + ih0 + ${i}) * W + iw0 + ${j}) * KQ + kq, ` +
          `okr${i} && okc${j})], okr${i} && okc${j});`
        )
      ).join("\n    ")
    }
    ${transform2d(f.bt, "d", "e", (a, b, e) => `result[(${n * a + b} * T + t) * KQ + kq] = ${e};`)}
  }`;
  return runPerTile(backend, `appaunet_wino${f.m}_v`, [n * n, tiles(g, f.m).T, g.K], ["x"], [x], g.K, code, g, f);
}

/** Tiles per invocation of the batched product (× 8 channels). */
const PT_ROWS = 8;

/**
 * WGSL binding the vec4 counts of the K and C channels (`KQ`, `CQ`) and the number of `CV`-vec4 blocks of C (`CB`),
 * shared by the product and the filter-gradient reduction.
 */
function channelQuads(CV: number): string {
  return `let KQ = K / 4; let CQ = C / 4; let CB = CQ / ${CV};`;
}

/** M[p] = V[p] · U[p] for the P = n² positions p: `[P, T, C]`. */
function batchedProduct(
  backend: WebGpuBackendLike,
  v: tf.TensorInfo,
  u: tf.TensorInfo,
  g: Geometry,
  f: Variant,
) {
  const P = (f.m + 2) ** 2;
  const CV = groups(g.C);
  // Each accumulator is written once per loop iteration (4 products added left to right: the same sum order as one
  // multiply-add at a time): lavapipe turns every write to a variable inside a loop into a masked blend and, with
  // this many accumulators, a spill to the stack, so one write instead of four saves ≈ 5–15 % of the product's time.
  const rows = range(PT_ROWS), cv = range(CV), k4 = range(4);
  const acc = (j: number, q: number) => `a${j}_${q}`;
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    ${channelQuads(CV)}
    let TB = (T + ${PT_ROWS - 1}) / ${PT_ROWS};
    let cb = index % CB;
    let tb = (index / CB) % TB;
    let p = index / (CB * TB);
    let cq0 = cb * ${CV};
    let t0 = tb * ${PT_ROWS};
    ${rows.map((j) => `let r${j} = select(0, (p * T + t0 + ${j}) * KQ, t0 + ${j} < T);`).join(" ")}
    ${rows.flatMap((j) => cv.map((q) => `var ${acc(j, q)} = vec4<f32>(0.0);`)).join(" ")}
    let ub = p * K * CQ + cq0;
    for (var kq = 0; kq < KQ; kq = kq + 1) {
      let ui = ub + kq * 4 * CQ;
      ${rows.map((j) => `let v${j} = v[r${j} + kq];`).join(" ")}
      ${k4.map((kk) => cv.map((q) => `let u${kk}_${q} = u[ui + ${kk} * CQ + ${q}];`).join(" ")).join("\n      ")}
      ${
    rows.flatMap((j) =>
      cv.map((q) => `${acc(j, q)} = ${acc(j, q)} + ${k4.map((kk) => `v${j}[${kk}] * u${kk}_${q}`).join(" + ")};`)
    ).join("\n      ")
  }
    }
    ${
    rows.map((j) =>
      `if (t0 + ${j} < T) { let o = (p * T + t0 + ${j}) * CQ + cq0; ${
        cv.map((q) => `result[o + ${q}] = ${acc(j, q)};`).join(" ")
      } }`
    ).join("\n    ")
  }
  }`;
  const { T } = tiles(g, f.m);
  const size = P * Math.ceil(T / PT_ROWS) * (g.C / (4 * CV));
  return runProgram(
    backend,
    program(`appaunet_wino_m_${CV}`, [P, T, g.C], ["v", "u"], size, code, vec4Buffers(2)),
    [v, u],
    "float32",
    uniforms(g, size, f.m),
  );
}

/** Y = Aᵀ m A (+ bias, relu) of every tile, 4 channels per invocation: `[N, OH, OW, C]`. */
function outputTransform(
  backend: WebGpuBackendLike,
  m: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  activation: FusedActivation,
  g: Geometry,
  f: Variant,
) {
  const n = f.m + 2, rn = range(n);
  const post = (e: string) => {
    let s = bias ? `(${e} + bv)` : `(${e})`;
    if (activation === "relu") s = `max(${s}, vec4<f32>(0.0))`;
    return s;
  };
  const code = () =>
    `${tileMain("C", "CQ", "cq")}
    ${bias ? "let bv = bias[cq];" : ""}
    ${rn.flatMap((a) => rn.map((b) => `let m${a}_${b} = m[(${n * a + b} * T + t) * CQ + cq];`)).join("\n    ")}
    ${
      transform2d(f.at, "m", "s", (i, j, e) =>
        `{ let oh = ${f.m} * th + ${i}; let ow = ${f.m} * tw + ${j}; if (oh < OH && ow < OW) { let y = ${post(e)}; ` +
        `result[((nn * OH + oh) * OW + ow) * CQ + cq] = y; } }`)
    }
  }`;
  const key = `appaunet_wino${f.m}_y_${bias ? 1 : 0}_${activation}`;
  const [names, inputs] = bias ? [["m", "bias"], [m, bias]] : [["m"], [m]];
  return runPerTile(backend, key, [g.N, g.OH, g.OW, g.C], names, inputs, g.C, code, g, f);
}

const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

/** A dy Aᵀ of every m×m output-gradient tile (zero outside the output), 4 channels per invocation: `[n², T, C]`. */
function outputGradTransform(backend: WebGpuBackendLike, dy: tf.TensorInfo, g: Geometry, f: Variant) {
  const n = f.m + 2, rm = range(f.m);
  const a = transpose(f.at);
  const code = () =>
    `${tileMain("C", "CQ", "cq")}
    ${
      rm.flatMap((i) =>
        rm.map((j) =>
          `let ok${i}_${j} = ${f.m} * th + ${i} < OH && ${f.m} * tw + ${j} < OW; ` +
          `let d${i}_${j} = select(vec4<f32>(0.0), dy[select(0, ((nn * OH + ${f.m} * th + ${i}) * OW + ${f.m} * tw + ` +
          `${j}) * CQ + cq, ok${i}_${j})], ok${i}_${j});`
        )
      ).join("\n    ")
    }
    ${transform2d(a, "d", "e", (r, q, e) => `result[(${n * r + q} * T + t) * CQ + cq] = ${e};`)}
  }`;
  return runPerTile(backend, `appaunet_wino${f.m}_dy`, [n * n, tiles(g, f.m).T, g.C], ["dy"], [dy], g.C, code, g, f);
}

/**
 * Z[s, p] = Σ over the tiles t of chunk s of V[p, t]ᵀ · E[p, t] (input channels × output channels), `[S, P, K, C]`:
 * the per-position products of the filter gradient, split over S chunks of tiles (split-K) for parallelism.
 */
function tileReduction(
  backend: WebGpuBackendLike,
  v: tf.TensorInfo,
  e: tf.TensorInfo,
  g: Geometry,
  f: Variant,
  S: number,
) {
  const P = (f.m + 2) ** 2;
  const KV = groups(g.K), CV = groups(g.C);
  const kv = range(KV), cv = range(CV), ct = range(4 * KV);
  const acc = (i: number, q: number) => `a${i}_${q}`;
  const { T } = tiles(g, f.m);
  const chunk = Math.ceil(T / S);
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    ${channelQuads(CV)}
    let KB = KQ / ${KV};
    let cb = index % CB;
    let kb = (index / CB) % KB;
    let p = (index / (CB * KB)) % ${P};
    let s = index / (CB * KB * ${P});
    let cq0 = cb * ${CV};
    let kq0 = kb * ${KV};
    ${ct.flatMap((i) => cv.map((q) => `var ${acc(i, q)} = vec4<f32>(0.0);`)).join(" ")}
    let t1 = min(T, (s + 1) * E1);
    for (var t = s * E1; t < t1; t = t + 1) {
      let vi = (p * T + t) * KQ + kq0;
      let ei = (p * T + t) * CQ + cq0;
      ${cv.map((q) => `let e${q} = e[ei + ${q}];`).join(" ")}
      ${kv.map((w) => `let v${w} = v[vi + ${w}];`).join(" ")}
      ${
    ct.flatMap((i) => cv.map((q) => `${acc(i, q)} = ${acc(i, q)} + v${i >> 2}[${i & 3}] * e${q};`)).join("\n      ")
  }
    }
    let o = ((s * ${P} + p) * K + kq0 * 4) * CQ + cq0;
    ${ct.map((i) => cv.map((q) => `result[o + ${i} * CQ + ${q}] = ${acc(i, q)};`).join(" ")).join("\n    ")}
  }`;
  const size = S * P * (g.K / (4 * KV)) * (g.C / (4 * CV));
  return runProgram(
    backend,
    program(`appaunet_wino_z_${KV}_${CV}_${P}`, [S, P, g.K, g.C], ["v", "e"], size, code, vec4Buffers(2)),
    [v, e],
    "float32",
    uniforms(g, size, f.m, chunk),
  );
}

/** dW = Gᵀ (Σ_s Z[s]) G for every (k, c): `[3, 3, K, C]`. */
function filterGradTransform(backend: WebGpuBackendLike, z: tf.TensorInfo, g: Geometry, f: Variant, S: number) {
  const n = f.m + 2, P = n * n, rn = range(n);
  const gt = transpose(f.g);
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    let c = index % C;
    let k = index / C;
    ${rn.flatMap((a) => rn.map((b) => `var z${a}_${b} = 0.0;`)).join(" ")}
    for (var s = 0; s < E2; s = s + 1) {
      ${
    rn.flatMap((a) => rn.map((b) => `z${a}_${b} = z${a}_${b} + z[((s * ${P} + ${n * a + b}) * K + k) * C + c];`)).join(
      "\n      ",
    )
  }
    }
    ${transform2d(gt, "z", "h", (i, j, e) => `result[(${3 * i + j} * K + k) * C + c] = ${e};`)}
  }`;
  const size = g.K * g.C;
  return runProgram(
    backend,
    program(`appaunet_wino${f.m}_dw`, [3, 3, g.K, g.C], ["z"], size, code),
    [z],
    "float32",
    uniforms(g, size, f.m, 0, S),
  );
}

/**
 * Filter gradient of a 3×3 stride-1 convolution by Winograd: with U = G g Gᵀ the forward tile is Aᵀ (U ⊙ V) A, so
 * dL/dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ V] G (Lavin & Gray §5). The input transform V is the forward one.
 *
 * @param backend the webgpu backend
 * @param x forward input `[N, H, W, CIN]`
 * @param dy output gradient `[N, OH, OW, COUT]`
 * @param info forward convolution geometry ({@linkcode winogradEligible} must hold)
 * @returns the filter gradient `[3, 3, CIN, COUT]`
 */
export function conv2dBackpropFilterWinogradWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const g = forwardGeometry(info);
  const f = variant();
  const P = (f.m + 2) ** 2;
  const { T } = tiles(g, f.m);
  const tilesOfWork = P * (g.K / (4 * groups(g.K))) * (g.C / (4 * groups(g.C)));
  // Enough invocations for the device (as the direct dW kernel), in chunks of at least 16 tiles; a power of two so
  // that only a few shader variants exist.
  let S = 1;
  while (S * tilesOfWork < 4096 && T / (2 * S) >= 16) S *= 2;
  const { v, owned } = inputTransformOf(backend, x, g, f, false);
  const e = outputGradTransform(backend, dy, g, f);
  const z = tileReduction(backend, v, e, g, f, S);
  if (owned) backend.disposeData(v.dataId);
  backend.disposeData(e.dataId);
  const dw = filterGradTransform(backend, z, g, f, S);
  backend.disposeData(z.dataId);
  return dw;
}

/**
 * Input transforms of forward inputs, kept while tfjs records gradients so that the filter gradient of the same
 * convolution (which transforms the same x the same way) reuses them instead of recomputing. Keyed by the input's data
 * id; an entry is dropped (and its buffer released) as soon as that input's data is gone from the backend, checked at
 * every Winograd call, so at most the transforms of the live activations of one step are held, and never more than
 * {@linkcode INPUT_TRANSFORM_BUDGET} bytes (past it, transforms are recomputed as without the cache). An entry whose
 * input was overwritten in place since (a variable updated by the fused Adam, {@linkcode dataVersion}) is a miss. Measured: S
 * forward + backward at 128² 4.68 → 4.45 s (medians of 6, interleaved).
 */
const inputTransforms = new Map<object, { key: string; v: tf.TensorInfo; bytes: number; version: number }>();

/** Most bytes of input transforms held for reuse (256 MiB; measured peak: 160 MiB at 128², base 16, batch 8). */
const INPUT_TRANSFORM_BUDGET = 256 * 2 ** 20;

let heldBytes = 0;

function transformKey(g: Geometry, f: Variant): string {
  return [g.N, g.H, g.W, g.K, g.OH, g.OW, g.PT, g.PL, f.m].join(",");
}

/** Releases the cached transforms whose input data the backend no longer holds. */
function sweepInputTransforms(backend: WebGpuBackendLike): void {
  const map = (backend as { tensorMap?: { has(id: object): boolean } }).tensorMap;
  for (const [id, entry] of inputTransforms) {
    if (!map?.has(id)) {
      backend.disposeData(entry.v.dataId);
      heldBytes -= entry.bytes;
      inputTransforms.delete(id);
    }
  }
}

/**
 * Whether tfjs is recording operations for a gradient (inside `tf.grads`, `minimize`, …).
 *
 * @returns true while a gradient tape records
 */
export function recordingGradients(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: number } }).state;
  return (state?.gradientDepth ?? 0) > 0;
}

/**
 * V of x for geometry g: the cached one when there is, else computed (and cached when `keep`). The caller disposes
 * the result only when `owned` is true.
 */
function inputTransformOf(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  g: Geometry,
  f: Variant,
  keep: boolean,
): { v: tf.TensorInfo; owned: boolean } {
  sweepInputTransforms(backend);
  const key = transformKey(g, f);
  const hit = inputTransforms.get(x.dataId);
  const version = dataVersion(x.dataId); // x may be a variable that an optimizer updated in place since
  if (hit && hit.key === key && hit.version === version) return { v: hit.v, owned: false };
  const v = inputTransform(backend, x, g, f);
  const bytes = 4 * tf.util.sizeFromShape(v.shape);
  if (!keep || heldBytes + bytes - (hit?.bytes ?? 0) > INPUT_TRANSFORM_BUDGET) return { v, owned: true };
  if (hit) {
    backend.disposeData(hit.v.dataId);
    heldBytes -= hit.bytes;
  }
  inputTransforms.set(x.dataId, { key, v, bytes, version });
  heldBytes += bytes;
  return { v, owned: false };
}

/**
 * How many input transforms are held for reuse by filter gradients (for tests and diagnostics).
 *
 * @returns the number of cached transforms
 */
export function cachedInputTransforms(): number {
  return inputTransforms.size;
}

function winograd(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  activation: FusedActivation,
  g: Geometry,
  flipped: boolean,
): tf.TensorInfo {
  const f = variant();
  const u = filterTransform(backend, filter, g, flipped, f);
  // The forward's V is what the filter gradient needs; dy's (input gradient) is used once.
  const { v, owned } = flipped
    ? { v: inputTransform(backend, x, g, f), owned: true }
    : inputTransformOf(backend, x, g, f, recordingGradients());
  const m = batchedProduct(backend, v, u, g, f);
  backend.disposeData(u.dataId);
  if (owned) backend.disposeData(v.dataId);
  const y = outputTransform(backend, m, bias, activation, g, f);
  backend.disposeData(m.dataId);
  return y;
}

/**
 * Forward 3×3 stride-1 convolution (optionally with bias and relu) by Winograd F(m×m, 3×3) (m from
 * {@linkcode useWinograd}: 4 by default), NHWC.
 *
 * @param backend the webgpu backend
 * @param x input `[N, H, W, CIN]`
 * @param filter `[3, 3, CIN, COUT]`
 * @param bias `[COUT]` or undefined
 * @param activation linear or relu
 * @param info convolution geometry ({@linkcode winogradEligible} must hold)
 * @returns output `[N, OH, OW, COUT]`
 */
export function conv2dWinogradWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  activation: FusedActivation,
  info: ConvInfo,
): tf.TensorInfo {
  return winograd(backend, x, filter, bias, activation, forwardGeometry(info), false);
}

/**
 * Input gradient of a 3×3 stride-1 convolution by Winograd F(m×m, 3×3): dx is the correlation of dy with the
 * filter rotated by 180° and its channel axes swapped, padded by 2 − (forward padding).
 *
 * @param backend the webgpu backend
 * @param dy output gradient `[N, OH, OW, COUT]`
 * @param filter forward filter `[3, 3, CIN, COUT]`
 * @param info forward convolution geometry ({@linkcode winogradEligible} must hold)
 * @returns the input gradient `[N, H, W, CIN]`
 */
export function conv2dBackpropInputWinogradWebGpu(
  backend: WebGpuBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const g: Geometry = {
    N: info.batchSize,
    H: info.outHeight,
    W: info.outWidth,
    K: info.outChannels,
    OH: info.inHeight,
    OW: info.inWidth,
    C: info.inChannels,
    PT: 2 - info.padInfo.top,
    PL: 2 - info.padInfo.left,
  };
  return winograd(backend, dy, filter, undefined, "linear", g, true);
}
