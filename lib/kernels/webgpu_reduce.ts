/**
 * Column reductions for the tfjs `webgpu` backend: `Sum` and `Mean` over every axis but the last (what
 * BatchNormalization and its gradient ask for on NHWC tensors, `[N, H, W, C] → [C]`). Stock tfjs transposes the
 * tensor so the reduced axes come last, then runs a workgroup-memory reduction; this reads the tensor in place:
 * lanes are adjacent channels, each invocation sums a chunk of rows (split-R), and a second pass adds the chunks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { flatProgramWith, runProgram, type WebGpuBackendLike } from "./webgpu_program.ts";
import { onGpu } from "./policy.ts";

const UNIFORMS = "b0 : vec4<i32>, bf : vec4<f32>,";
const PRELUDE = "\n    let R = uniforms.b0.x; let C = uniforms.b0.y; let S = uniforms.b0.z; let RP = uniforms.b0.w;" +
  " let EPS = uniforms.bf.x;";

/**
 * How a column reduction over `shape` is split: R rows (all axes but the last), C channels, S chunks of RP rows.
 * On a CPU adapter: enough chunks for ≥ 256 invocations (its few cores are then busy), but chunks of ≥ 32 rows. On
 * a GPU: ≈ √R / 2 chunks, so the first pass (RP rows per invocation, many invocations in flight) and the second
 * (S partial sums per channel, only C invocations) are both short; measured on an H100 at 256², the BatchNorm
 * statistics ran ≈ 10× faster split for 4k invocations than for 256.
 *
 * @param shape the reduced tensor's shape
 * @param gpu split for a GPU (see {@linkcode onGpu})
 * @returns rows, channels, chunks and rows per chunk
 */
export function columnSplit(shape: number[], gpu = false): { R: number; C: number; S: number; RP: number } {
  const C = shape[shape.length - 1];
  const R = tf.util.sizeFromShape(shape) / C;
  const target = gpu ? Math.round(Math.sqrt(R) / 2) : Math.ceil(256 / C);
  const S = Math.max(1, Math.min(Math.ceil(R / 32), target));
  return { R, C, S, RP: Math.ceil(R / S) };
}

/** Uniforms of the column programs (R, C, S and RP come from the uniforms: pipelines are cached by key). */
function uniformsFor({ R, C, S, RP }: ReturnType<typeof columnSplit>, eps = 0) {
  return [{ type: "int32", data: [R, C, S, RP] }, { type: "float32", data: [eps, 0, 0, 0] }];
}

const program = flatProgramWith(UNIFORMS, PRELUDE);

/**
 * Partial column sums of K terms: `result[s·K·C + k·C + c]` = Σ over the rows of chunk `s` of `terms[k](b)`,
 * where `b` is the WGSL index `r·C + c` of the row's element (`c` is in scope too). Lanes are adjacent channels;
 * each invocation runs 4 accumulators per term.
 *
 * @param backend the webgpu backend
 * @param key shader cache key (must change whenever `terms` or `names` do)
 * @param inputs input tensors
 * @param names their buffer names
 * @param terms one WGSL expression builder per summed term
 * @param shape the reduced tensor's shape (see {@linkcode columnSplit})
 * @returns the `[S, K, C]` partial sums
 */
export function columnPartialSums(
  backend: WebGpuBackendLike,
  key: string,
  inputs: tf.TensorInfo[],
  names: string[],
  terms: ((b: string) => string)[],
  shape: number[],
): tf.TensorInfo {
  const split = columnSplit(shape, onGpu(backend));
  const { C, S } = split;
  const K = terms.length;
  const code = () => {
    const u = [0, 1, 2, 3];
    const acc = terms.map((_, k) => u.map((j) => `var a${k}_${j} = 0.0;`).join(" ")).join(" ");
    const add4 = terms.map((t, k) =>
      u.map((j) => `a${k}_${j} = a${k}_${j} + ${t(j ? `b + ${j} * C` : "b")};`).join(" ")
    );
    const add1 = terms.map((t, k) => `a${k}_0 = a${k}_0 + ${t("b")};`);
    const store = terms.map((_, k) =>
      `result[s * ${K} * C + ${k} * C + c] = (a${k}_0 + a${k}_1) + (a${k}_2 + a${k}_3);`
    );
    return `
  fn main(index : i32) {
    if (index >= S * C) { return; }
    let c = index % C;
    let s = index / C;
    let r1 = min(R, (s + 1) * RP);
    ${acc}
    var r = s * RP;
    for (; r + 3 < r1; r = r + 4) { let b = r * C + c; ${add4.join(" ")} }
    for (; r < r1; r = r + 1) { let b = r * C + c; ${add1.join(" ")} }
    ${store.join("\n    ")}
  }`;
  };
  return runProgram(backend, program(key, [S, K, C], names, S * C, code), inputs, "float32", uniformsFor(split));
}

/**
 * Finishes term `k` of {@linkcode columnPartialSums}: `result[c] = expr` with `sum` = Σ_s partial[s, k, c] (and
 * `R`, `EPS`, `c` and the extra inputs in scope).
 *
 * @param backend the webgpu backend
 * @param key shader cache key (must change whenever `expr`, `extraNames`, `k` or `K` do)
 * @param partial the partial sums
 * @param extra extra inputs (per-channel tensors)
 * @param extraNames their buffer names
 * @param k which term
 * @param K how many terms the partial sums hold
 * @param expr WGSL expression of `sum`
 * @param outShape output shape (C elements)
 * @param shape the reduced tensor's shape
 * @param eps value of `EPS`
 * @returns the per-channel result
 */
export function columnFinish(
  backend: WebGpuBackendLike,
  key: string,
  partial: tf.TensorInfo,
  extra: tf.TensorInfo[],
  extraNames: string[],
  k: number,
  K: number,
  expr: string,
  outShape: number[],
  shape: number[],
  eps = 0,
): tf.TensorInfo {
  const split = columnSplit(shape, onGpu(backend));
  const { C } = split;
  const code = () => `
  fn main(index : i32) {
    if (index >= C) { return; }
    let c = index;
    var sum = 0.0;
    for (var s = 0; s < S; s = s + 1) { sum = sum + partial[s * ${K} * C + ${k} * C + c]; }
    result[c] = ${expr};
  }`;
  return runProgram(
    backend,
    program(key, outShape, ["partial", ...extraNames], C, code),
    [partial, ...extra],
    "float32",
    uniformsFor(split, eps),
  );
}

/**
 * Whether a reduction over `axis` of a tensor of `shape` is "every axis but the last".
 *
 * @param shape input shape
 * @param axis the reduced axes (possibly negative or unsorted)
 * @returns true when the column kernel applies
 */
export function isColumnReduction(shape: number[], axis: number | number[]): boolean {
  const r = shape.length;
  if (r < 2) return false;
  const ax = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + r : a)))].sort((a, b) => a - b);
  return ax.length === r - 1 && ax.every((a, i) => a === i);
}

/**
 * Sum (or mean) over all axes but the last.
 *
 * @param backend the webgpu backend
 * @param x float32 input
 * @param keepDims keep reduced axes as size 1
 * @param mean divide by the number of reduced elements
 * @returns the reduced tensor
 */
export function columnReduceWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  keepDims: boolean,
  mean: boolean,
): tf.TensorInfo {
  const split = columnSplit(x.shape, onGpu(backend));
  const { C, S } = split;
  const outShape = keepDims ? [...x.shape.slice(0, -1).map(() => 1), C] : [C];
  const scale = mean ? " / f32(R)" : "";
  if (S === 1) {
    const code = () => `
  fn main(index : i32) {
    if (index >= C) { return; }
    var acc = 0.0;
    for (var r = 0; r < R; r = r + 1) { acc = acc + x[r * C + index]; }
    result[index] = acc${scale};
  }`;
    return runProgram(
      backend,
      program(`appaunet_colsum1_${mean}`, outShape, ["x"], C, code),
      [x],
      "float32",
      uniformsFor(split),
    );
  }
  const partial = columnPartialSums(backend, "appaunet_colsum_part", [x], ["x"], [(b) => `x[${b}]`], x.shape);
  const out = columnFinish(
    backend,
    `appaunet_colsum_fin_${mean}`,
    partial,
    [],
    [],
    0,
    1,
    `sum${scale}`,
    outShape,
    x.shape,
  );
  backend.disposeData(partial.dataId);
  return out;
}

/**
 * Whether a reduction over `axis` of a tensor of `shape` is "the last axis only", with rows short enough (2–1024
 * elements) for one invocation per row. tfjs's own kernel gives every row a 64-lane workgroup-memory reduction,
 * which for short rows (e.g. the gradient of an attention coefficient broadcast over 16 channels: `Sum` over the
 * channels of `[8, 128, 128, 16]`) costs as much as a convolution.
 *
 * @param shape input shape
 * @param axis the reduced axes (possibly negative)
 * @returns true when the row kernel applies
 */
export function isShortRowReduction(shape: number[], axis: number | number[]): boolean {
  const r = shape.length;
  if (r < 2) return false;
  const ax = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + r : a)))];
  const C = shape[r - 1];
  return ax.length === 1 && ax[0] === r - 1 && C >= 2 && C <= 1024 &&
    tf.util.sizeFromShape(shape) / C >= MIN_ROWS;
}

/** Fewest rows for which the row kernel is worth its own dispatch. */
const MIN_ROWS = 256;

/**
 * Sum (or mean) over the last axis, one invocation per row (4 elements per load when the row length is a multiple of
 * 4).
 *
 * @param backend the webgpu backend
 * @param x float32 input
 * @param keepDims keep the reduced axis as size 1
 * @param mean divide by the row length
 * @returns the reduced tensor
 */
export function rowReduceWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  keepDims: boolean,
  mean: boolean,
): tf.TensorInfo {
  const split = columnSplit(x.shape);
  const { R, C } = split;
  const outShape = keepDims ? [...x.shape.slice(0, -1), 1] : x.shape.slice(0, -1);
  const scale = mean ? " / f32(C)" : "";
  const vec = C % 4 === 0;
  const code = () =>
    vec
      ? `
  fn main(index : i32) {
    if (index >= R) { return; }
    let CQ = C / 4;
    let b = index * CQ;
    var acc = vec4<f32>(0.0);
    for (var q = 0; q < CQ; q = q + 1) { acc = acc + x[b + q]; }
    result[index] = ((acc.x + acc.y) + (acc.z + acc.w))${scale};
  }`
      : `
  fn main(index : i32) {
    if (index >= R) { return; }
    let b = index * C;
    var acc = 0.0;
    for (var c = 0; c < C; c = c + 1) { acc = acc + x[b + c]; }
    result[index] = acc${scale};
  }`;
  return runProgram(
    backend,
    program(`appaunet_rowsum_${vec}_${mean}`, outShape, ["x"], R, code, vec ? { inputs: [4], output: 1 } : undefined),
    [x],
    "float32",
    uniformsFor(split),
  );
}
