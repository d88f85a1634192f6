/**
 * Concatenation and splitting along the last (channel) axis for the tfjs `webgpu` backend: U-Net skip
 * connections (`Concat`) and their gradients (`SplitV`). One invocation copies one row (one pixel's channels) of
 * every part, so no element needs an integer division (stock tfjs computes N-d coordinates per element, which
 * lavapipe runs lane by lane).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { flatProgram, runProgram, type WebGpuBackendLike } from "./webgpu_program.ts";

/** Most parts handled in one dispatch (tfjs's own limit for one program's inputs is larger). */
export const MAX_CONCAT_PARTS = 4;

const size = tf.util.sizeFromShape;

/**
 * Whether {@linkcode concatLastWebGpu} handles these shapes: 2–4 parts of equal rank ≥ 2 that agree on every
 * axis but the last, concatenated along the last axis.
 *
 * @param shapes the parts' shapes
 * @param axis the concat axis (may be negative)
 * @returns true when the row-copy kernel applies
 */
export function isLastAxisConcat(shapes: number[][], axis: number): boolean {
  if (shapes.length < 2 || shapes.length > MAX_CONCAT_PARTS) return false;
  const r = shapes[0].length;
  if (r < 2 || (axis < 0 ? axis + r : axis) !== r - 1) return false;
  return shapes.every((s) => s.length === r && s.slice(0, -1).every((d, i) => d === shapes[0][i]) && s[r - 1] > 0);
}

/**
 * Concatenates 2–4 tensors along their last axis.
 *
 * @param backend the webgpu backend
 * @param parts float32 tensors (see {@linkcode isLastAxisConcat})
 * @returns the concatenation
 */
export function concatLastWebGpu(backend: WebGpuBackendLike, parts: tf.TensorInfo[]): tf.TensorInfo {
  const r = parts[0].shape.length;
  const widths = parts.map((p) => p.shape[r - 1]);
  const total = widths.reduce((a, b) => a + b, 0);
  const rows = size(parts[0].shape) / widths[0];
  const names = parts.map((_, k) => `p${k}`);
  // Part k starts at channel uniforms.o0[k] (0 for the first part) and is uniforms.c0[k] wide.
  const copy = (k: number) => {
    const ck = `uniforms.c0[${k}]`, start = k === 0 ? "" : `uniforms.o0[${k}] + `;
    return `for (var c = 0; c < ${ck}; c = c + 1) { result[index * T + ${start}c] = p${k}[index * ${ck} + c]; }`;
  };
  const code = () => `
  fn main(index : i32) {
    if (index >= ROWS) { return; }
    ${parts.map((_, k) => copy(k)).join("\n    ")}
  }`;
  const offsets = widths.map((_, k) => widths.slice(0, k).reduce((a, b) => a + b, 0));
  const pad = (v: number[]) => [...v, 0, 0, 0, 0].slice(0, 4);
  return runProgram(
    backend,
    flatProgram(
      `appaunet_concat_${parts.length}`,
      [...parts[0].shape.slice(0, -1), total],
      names,
      rows,
      code,
      "c0 : vec4<i32>, o0 : vec4<i32>, q0 : vec4<i32>,",
      "\n    let T = uniforms.q0.x; let ROWS = uniforms.q0.y;",
    ),
    parts,
    "float32",
    [
      { type: "int32", data: pad(widths) },
      { type: "int32", data: pad(offsets) },
      { type: "int32", data: [total, rows, 0, 0] },
    ],
  );
}

/**
 * The slice `[..., offset : offset + width]` of `x` along its last axis (one part of a `SplitV`).
 *
 * @param backend the webgpu backend
 * @param x float32 tensor of rank ≥ 2
 * @param offset first channel of the part
 * @param width channels of the part
 * @returns the part
 */
export function sliceLastWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  offset: number,
  width: number,
): tf.TensorInfo {
  const r = x.shape.length;
  const T = x.shape[r - 1];
  const rows = size(x.shape) / T;
  const code = () => `
  fn main(index : i32) {
    if (index >= ROWS) { return; }
    for (var c = 0; c < CW; c = c + 1) { result[index * CW + c] = x[index * T + OFF + c]; }
  }`;
  return runProgram(
    backend,
    flatProgram(
      "appaunet_slice_last",
      [...x.shape.slice(0, -1), width],
      ["x"],
      rows,
      code,
      "q0 : vec4<i32>,",
      "\n    let T = uniforms.q0.x; let ROWS = uniforms.q0.y; let OFF = uniforms.q0.z; let CW = uniforms.q0.w;",
    ),
    [x],
    "float32",
    [{ type: "int32", data: [T, rows, offset, width] }],
  );
}
