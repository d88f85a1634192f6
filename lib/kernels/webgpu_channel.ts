/**
 * Per-channel broadcast kernels for the tfjs `webgpu` backend: a big NHWC tensor combined with a vector that
 * runs along its last (channel) axis, e.g. `x · γ`, `x − μ`, BatchNormalization itself, and `tile` of a
 * `[1, 1, 1, C]` tensor. Stock tfjs computes full N-d coordinates of every element of both operands (integer
 * divisions, which a CPU adapter such as lavapipe cannot vectorize); here the channel of element `i` is
 * `i & (C − 1)` when C is a power of two, else `i mod C` once per 4 elements.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { flatProgram, type Program, type WebGpuBackendLike } from "./webgpu_program.ts";

/** The binary ops handled, with their WGSL expression of `a` and `b`. */
export const CHANNEL_BINARY_OPS = {
  Multiply: "a * b",
  Add: "a + b",
  Sub: "a - b",
  RealDiv: "a / b",
} as const;

/** A binary op name handled by {@linkcode channelBinaryWebGpu}. */
export type ChannelBinaryOp = keyof typeof CHANNEL_BINARY_OPS;

/** Smallest big operand worth a dedicated dispatch (below it the stock kernel may run on the CPU). */
const MIN_SIZE = 4096;

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Whether `small` broadcasts along the last axis of `big` (its size is that axis' length, or 1, and every other
 * axis of it is 1), so `op(big, small)` has `big`'s shape.
 *
 * @param big the full-size operand's shape
 * @param small the other operand's shape
 * @returns true when the channel kernel applies
 */
export function isChannelBroadcast(big: number[], small: number[]): boolean {
  if (big.length < 2 || small.length > big.length || size(big) < MIN_SIZE) return false;
  const C = big[big.length - 1], n = size(small);
  if (n !== C && n !== 1) return false;
  // Every axis of `small` but its last must be 1; its last must be C or 1.
  return small.every((d, i) => (i === small.length - 1 ? d === n : d === 1));
}

/** How element `i` finds its channel: mask (power of two), once-per-4 modulo (C % 4 = 0), or modulo. */
export type ChannelMode = "pow2" | "mod4" | "mod";

/**
 * The channel mode for `C` channels.
 *
 * @param C channels (last axis)
 * @returns the cheapest exact way to compute `i mod C`
 */
export function channelMode(C: number): ChannelMode {
  if ((C & (C - 1)) === 0) return "pow2";
  return C % 4 === 0 ? "mod4" : "mod";
}

/**
 * WGSL for the channel of element `i` (the k-th of 4 starting at `i0`); needs `M = C − 1` for pow2 and
 * `c0 = i0 % C` for mod4 in scope.
 *
 * @param mode channel mode
 * @param k element within the group of 4
 * @returns a WGSL expression
 */
export function channelOf(mode: ChannelMode, k: number): string {
  if (mode === "pow2") return "(i & M)";
  if (mode === "mod4") return `(c0 + ${k})`;
  return "(i % C)";
}

const UNIFORMS = "e0 : vec4<i32>,";
const PRELUDE = "\n    let NE = uniforms.e0.x; let C = uniforms.e0.y; let M = uniforms.e0.z;";

function program(key: string, outputShape: number[], names: string[], code: string, extraUniforms = ""): Program {
  const n = size(outputShape);
  return flatProgram(key, outputShape, names, Math.ceil(n / 4), code, UNIFORMS + extraUniforms, PRELUDE);
}

/**
 * WGSL computing `out[i] = f(i, c)` for the 4 elements `4·index … 4·index + 3`, where `body(c)` is an
 * expression of `i` (element) and `c` (channel) in `fn main`.
 */
function fourElements(mode: ChannelMode, body: string): string {
  const ch = (k: number) => channelOf(mode, k);
  const lines = [0, 1, 2, 3].map((k) =>
    `{ let i = i0 + ${k}; if (i < NE) { let c = ${ch(k)}; result[i] = ${body}; } }`
  );
  return `
  fn main(index : i32) {
    let i0 = index * 4;
    if (i0 >= NE) { return; }
    ${mode === "mod4" ? "let c0 = i0 % C;" : ""}
    ${lines.join("\n    ")}
  }`;
}

function uniformsFor(n: number, C: number) {
  return [{ type: "int32", data: [n, C, C - 1, 0] }];
}

/**
 * `op(a, b)` where one operand is a per-channel vector (or a single value) broadcast over the other's shape.
 *
 * @param backend the webgpu backend
 * @param op which binary op
 * @param a first operand
 * @param b second operand
 * @param smallFirst whether `a` is the vector (`b` then has the full shape)
 * @returns `op(a, b)` with the full operand's shape
 */
export function channelBinaryWebGpu(
  backend: WebGpuBackendLike,
  op: ChannelBinaryOp,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  smallFirst: boolean,
): tf.TensorInfo {
  const big = smallFirst ? b : a, small = smallFirst ? a : b;
  const C = big.shape[big.shape.length - 1];
  const scalar = size(small.shape) === 1;
  const mode = scalar ? "pow2" : channelMode(C);
  const s = scalar ? "s[0]" : "s[c]";
  const expr = CHANNEL_BINARY_OPS[op].replace("a", smallFirst ? s : "x[i]").replace("b", smallFirst ? "x[i]" : s);
  const code = fourElements(mode, expr);
  return backend.runWebGPUProgram(
    program(`appaunet_chan_${op}_${mode}_${smallFirst}_${scalar}`, big.shape, ["x", "s"], code),
    [big, small],
    "float32",
    uniformsFor(size(big.shape), C),
  );
}

/**
 * Inference-style batch normalisation with per-channel statistics: `(x − mean) · scale / √(variance + ε) + offset`.
 *
 * @param backend the webgpu backend
 * @param x input (channels last)
 * @param mean per-channel mean
 * @param variance per-channel variance
 * @param offset per-channel offset (β) or undefined
 * @param scale per-channel scale (γ) or undefined
 * @param epsilon variance epsilon
 * @returns the normalised tensor
 */
export function channelBatchNormWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  mean: tf.TensorInfo,
  variance: tf.TensorInfo,
  offset: tf.TensorInfo | undefined,
  scale: tf.TensorInfo | undefined,
  epsilon: number,
): tf.TensorInfo {
  const C = x.shape[x.shape.length - 1];
  const mode = channelMode(C);
  const names = ["x", "mean", "variance", ...(offset ? ["offset"] : []), ...(scale ? ["scale"] : [])];
  const sc = scale ? "scale[c]" : "1.0", off = offset ? "offset[c]" : "0.0";
  const code = fourElements(mode, `(x[i] - mean[c]) * (${sc} * inverseSqrt(variance[c] + uniforms.eps)) + ${off}`);
  const inputs = [x, mean, variance, ...(offset ? [offset] : []), ...(scale ? [scale] : [])];
  return backend.runWebGPUProgram(
    program(`appaunet_chan_bn_${mode}_${Boolean(offset)}_${Boolean(scale)}`, x.shape, names, code, "eps : f32,"),
    inputs,
    "float32",
    [...uniformsFor(size(x.shape), C), { type: "float32", data: [epsilon] }],
  );
}

/**
 * `tile` of a tensor whose axes are all 1 but the last, with reps 1 on the last axis (a per-channel vector
 * spread over N·H·W).
 *
 * @param backend the webgpu backend
 * @param x the `[1, …, 1, C]` tensor
 * @param reps repetitions per axis
 * @returns the tiled tensor
 */
export function channelTileWebGpu(backend: WebGpuBackendLike, x: tf.TensorInfo, reps: number[]): tf.TensorInfo {
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const C = x.shape[x.shape.length - 1];
  const mode = channelMode(C);
  return backend.runWebGPUProgram(
    program(`appaunet_chan_tile_${mode}`, outShape, ["x"], fourElements(mode, "x[c]")),
    [x],
    "float32",
    uniformsFor(size(outShape), C),
  );
}

/**
 * Whether {@linkcode channelTileWebGpu} handles this tile.
 *
 * @param shape input shape
 * @param reps repetitions per axis
 * @returns true when every axis but the last is 1 and the last is not repeated
 */
export function isChannelTile(shape: number[], reps: number[]): boolean {
  const r = shape.length;
  return r >= 2 && reps.length === r && reps[r - 1] === 1 && shape.slice(0, -1).every((d) => d === 1) &&
    size(reps) * shape[r - 1] >= MIN_SIZE;
}
