/**
 * Winograd F(m×m, 3×3): the WGSL programs of the transforms (filter, input, output, their gradients), the batched
 * per-position product and the per-position tile reduction (see webgpu_winograd.ts for the algorithm).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { runProgram, vec4Buffers, type WebGpuBackendLike, type WgslSource } from "./webgpu_program.ts";
import type { FusedActivation } from "./webgpu_conv.ts";
import { type Geometry, groups, program, tiles, uniforms, type Variant } from "./webgpu_winograd_geometry.ts";

export function lin(mat: number[][], xs: string[]): string[] {
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

export const range = (n: number) => [...Array(n).keys()];

/**
 * WGSL of the separable 2-D transform `mat · S · matᵀ` of the values `${src}{i}_{j}` (i, j < the width of `mat`): `let`
 * bindings of the column pass (`${tmp}{a}_{j}`), then `emit(a, b, expr)` for every output (a, b < the height of `mat`).
 */
export function transform2d(
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
export function filterTransform(
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
export function tileMain(channels: string, Q: string, q: string): string {
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
export function runPerTile(
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
export function inputTransform(backend: WebGpuBackendLike, x: tf.TensorInfo, g: Geometry, f: Variant) {
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
export const PT_ROWS = 8;

/**
 * WGSL binding the vec4 counts of the K and C channels (`KQ`, `CQ`) and the number of `CV`-vec4 blocks of C (`CB`),
 * shared by the product and the filter-gradient reduction.
 */
export function channelQuads(CV: number): string {
  return `let KQ = K / 4; let CQ = C / 4; let CB = CQ / ${CV};`;
}

/** M[p] = V[p] · U[p] for the P = n² positions p: `[P, T, C]`. */
export function batchedProduct(
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
export function outputTransform(
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

export const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

/** A dy Aᵀ of every m×m output-gradient tile (zero outside the output), 4 channels per invocation: `[n², T, C]`. */
export function outputGradTransform(backend: WebGpuBackendLike, dy: tf.TensorInfo, g: Geometry, f: Variant) {
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
export function tileReduction(
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
export function filterGradTransform(backend: WebGpuBackendLike, z: tf.TensorInfo, g: Geometry, f: Variant, S: number) {
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
