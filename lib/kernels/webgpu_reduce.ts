/**
 * Column reductions for the tfjs `webgpu` backend: `Sum` and `Mean` over every axis but the last (what
 * BatchNormalization and its gradient ask for on NHWC tensors, `[N, H, W, C] → [C]`). Stock tfjs transposes the
 * tensor so the reduced axes come last, then runs a workgroup-memory reduction; this reads the tensor in place:
 * lanes are adjacent channels, each invocation sums a chunk of rows (split-R), and a second pass adds the chunks.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { flatProgram, type Program, type WebGpuBackendLike } from "./webgpu_program.ts";

const PRELUDE = "\n    let R = uniforms.r0.x; let C = uniforms.r0.y; let S = uniforms.r0.z; let RP = uniforms.r0.w;";

function program(key: string, outputShape: number[], names: string[], invocations: number, code: string): Program {
  return flatProgram(key, outputShape, names, invocations, code, "r0 : vec4<i32>,", PRELUDE);
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
  const C = x.shape[x.shape.length - 1];
  const R = x.shape.reduce((a, b) => a * b, 1) / C;
  const outShape = keepDims ? [...x.shape.slice(0, -1).map(() => 1), C] : [C];
  // Enough chunks that there are ≥ 256 invocations, but chunks of ≥ 32 rows.
  const S = Math.max(1, Math.min(Math.ceil(R / 32), Math.ceil(256 / C)));
  const RP = Math.ceil(R / S);
  const uni = [{ type: "int32", data: [R, C, S, RP] }];
  const scale = mean ? " / f32(R)" : ""; // R comes from the uniforms: the pipeline is cached by key, not by shape
  if (S === 1) {
    const code = `
  fn main(index : i32) {
    if (index >= C) { return; }
    var acc = 0.0;
    for (var r = 0; r < R; r = r + 1) { acc = acc + x[r * C + index]; }
    result[index] = acc${scale};
  }`;
    return backend.runWebGPUProgram(program(`appaunet_colsum1_${mean}`, outShape, ["x"], C, code), [x], "float32", uni);
  }
  const partialCode = `
  fn main(index : i32) {
    if (index >= S * C) { return; }
    let c = index % C;
    let s = index / C;
    let r1 = min(R, (s + 1) * RP);
    var a0 = 0.0; var a1 = 0.0; var a2 = 0.0; var a3 = 0.0;
    var r = s * RP;
    for (; r + 3 < r1; r = r + 4) {
      let b = r * C + c;
      a0 = a0 + x[b]; a1 = a1 + x[b + C]; a2 = a2 + x[b + 2 * C]; a3 = a3 + x[b + 3 * C];
    }
    for (; r < r1; r = r + 1) { a0 = a0 + x[r * C + c]; }
    result[index] = (a0 + a1) + (a2 + a3);
  }`;
  const partial = backend.runWebGPUProgram(
    program("appaunet_colsum_part", [S, C], ["x"], S * C, partialCode),
    [x],
    "float32",
    uni,
  );
  const sumCode = `
  fn main(index : i32) {
    if (index >= C) { return; }
    var acc = 0.0;
    for (var s = 0; s < S; s = s + 1) { acc = acc + partial[s * C + index]; }
    result[index] = acc${scale};
  }`;
  const out = backend.runWebGPUProgram(
    program(`appaunet_colsum_fin_${mean}`, outShape, ["partial"], C, sumCode),
    [partial],
    "float32",
    uni,
  );
  backend.disposeData(partial.dataId);
  return out;
}
