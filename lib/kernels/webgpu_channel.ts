/**
 * Per-channel broadcast kernels for the tfjs `webgpu` backend: a big NHWC tensor combined with a vector that
 * runs along its last (channel) axis, e.g. `x · γ`, `x − μ`, BatchNormalization itself, and `tile` of a
 * `[1, 1, 1, C]` tensor. Stock tfjs computes full N-d coordinates of every element of both operands (integer
 * divisions, which a CPU adapter such as lavapipe cannot vectorize). Here, when C is a multiple of 4, one invocation
 * takes 4 channels of 4 pixels through `vec4<f32>` buffers and loads each per-channel value once (1.6–2.5× faster than
 * the per-element layout on S's shapes on lavapipe, whose kernels are limited by load instructions); otherwise the
 * channel of element `i` is `i & (C − 1)` when C is a power of two, else `i mod C` once per 4 elements.
 * `APPAUNET_CHANNEL_PIXELS=0` turns the blocked layout off (benchmarks), another value sets its pixels per invocation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  flatProgram,
  kernelEnv,
  MIN_FAST_ELEMENTS,
  runProgram,
  vec4Buffers,
  type WebGpuBackendLike,
} from "./webgpu_program.ts";

/** The binary ops handled, with their WGSL expression of `a` and `b`. */
export const CHANNEL_BINARY_OPS = {
  Multiply: "a * b",
  Add: "a + b",
  Sub: "a - b",
  RealDiv: "a / b",
} as const;

/** A binary op name handled by {@linkcode channelBinaryWebGpu}. */
export type ChannelBinaryOp = keyof typeof CHANNEL_BINARY_OPS;

const size = tf.util.sizeFromShape;

/**
 * Whether `small` broadcasts along the last axis of `big` (its size is that axis' length, or 1, and every other
 * axis of it is 1), so `op(big, small)` has `big`'s shape.
 *
 * @param big the full-size operand's shape
 * @param small the other operand's shape
 * @returns true when the channel kernel applies
 */
export function isChannelBroadcast(big: number[], small: number[]): boolean {
  if (big.length < 2 || small.length > big.length || size(big) < MIN_FAST_ELEMENTS) return false;
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
function channelOf(mode: ChannelMode, k: number): string {
  if (mode === "pow2") return "(i & M)";
  if (mode === "mod4") return `(c0 + ${k})`;
  return "(i % C)";
}

const UNIFORMS = "e0 : vec4<i32>,";
const PRELUDE = "\n    let NE = uniforms.e0.x; let C = uniforms.e0.y; let M = uniforms.e0.z;";

/**
 * WGSL computing `result[i] = expr` for the 4 elements `4·index … 4·index + 3`, where `expr` may use `i` (element)
 * and `c` (its channel).
 */
function fourElements(mode: ChannelMode, expr: string): string {
  const lines = [0, 1, 2, 3].map((k) =>
    `{ let i = i0 + ${k}; if (i < NE) { let c = ${channelOf(mode, k)}; result[i] = ${expr}; } }`
  );
  return `
  fn main(index : i32) {
    let i0 = index * 4;
    if (i0 >= NE) { return; }
    ${mode === "mod4" ? "let c0 = i0 % C;" : ""}
    ${lines.join("\n    ")}
  }`;
}

/** Pixels per invocation of the blocked layout (4 channels × this many pixels); `APPAUNET_CHANNEL_PIXELS` overrides. */
const BLOCK_PIXELS = Math.max(0, Math.floor(Number(kernelEnv("APPAUNET_CHANNEL_PIXELS") ?? 4) || 0));

/**
 * WGSL computing `expr` for 4 consecutive channels of {@linkcode BLOCK_PIXELS} consecutive pixels (C % 4 = 0).
 * Every per-channel input (`name[c]` in `expr`) is loaded once per invocation and kept in registers, so the loads
 * per element (what limits an elementwise kernel on a CPU adapter) drop from (full + per-channel inputs) to about
 * full inputs + per-channel inputs ÷ pixels; shared subexpressions of the per-channel values (e.g. `inverseSqrt`)
 * are computed once per invocation by the compiler.
 */
function blockElements(expr: string, channelNames: string[]): string {
  let e = expr;
  for (const n of channelNames) e = e.replaceAll(`${n}[c]`, `${n}_v`);
  const pixels = Array.from({ length: BLOCK_PIXELS }, (_, p) => `
    { let px = pb * ${BLOCK_PIXELS} + ${p};
      if (px < NP) { let i = px * G + g; result[i] = ${e}; } }`);
  return `
  fn main(index : i32) {
    let G = C / 4; let NP = NE / C;
    let pb = index / G; let g = index - pb * G;
    if (pb * ${BLOCK_PIXELS} >= NP) { return; }
    ${channelNames.map((n) => `let ${n}_v = ${n}[g];`).join(" ")}
    ${pixels.join("")}
  }`;
}

/** What {@linkcode channelMapWebGpu} needs to know of an expression, per (expression, input names). */
const analyses = new Map<string, { channelNames: string[]; vecReadable: boolean }>();

/**
 * The per-channel inputs of `expr` (used as `name[c]`), and whether the blocked (vec4) layout can read it: `i`, `c`
 * and the inputs appear only as `name[i]` / `name[c]` (`i` and `c` count vec4s there). The expressions are a fixed
 * set, so each is analysed once rather than on every dispatch.
 */
function analyse(expr: string, names: string[]): { channelNames: string[]; vecReadable: boolean } {
  const key = `${expr}\u0000${names.join(",")}`;
  let a = analyses.get(key);
  if (!a) {
    const rest = expr.replace(/\b\w+\[[ic]\]/g, "");
    a = {
      channelNames: names.filter((nm) => expr.includes(`${nm}[c]`)),
      vecReadable: !/\b[ic]\b/.test(rest) && names.every((nm) => !new RegExp(`\\b${nm}\\[`).test(rest)),
    };
    analyses.set(key, a);
  }
  return a;
}

/** Options of {@linkcode channelMapWebGpu}. */
export interface ChannelMapOptions {
  /** How elements find their channel. Default: {@linkcode channelMode} of the last axis. */
  mode?: ChannelMode;
  /** A float passed as `uniforms.eps` (e.g. a variance epsilon). Default: none. */
  epsilon?: number;
}

/**
 * Runs `result[i] = expr` over a channels-last output, 4 elements per invocation; `expr` is WGSL in `i` (element),
 * `c` (channel), `NE` (element count), `C` (channels) and the named inputs (and `uniforms.eps` when given).
 *
 * @param backend the webgpu backend
 * @param key shader cache key (the channel mode is appended); must change whenever `expr` or `names` do
 * @param outShape output shape (channels last)
 * @param names input buffer names
 * @param inputs input tensors, in `names` order
 * @param expr the WGSL expression
 * @param opts channel mode and epsilon
 * @returns the output
 */
export function channelMapWebGpu(
  backend: WebGpuBackendLike,
  key: string,
  outShape: number[],
  names: string[],
  inputs: tf.TensorInfo[],
  expr: string,
  opts: ChannelMapOptions = {},
): tf.TensorInfo {
  const C = outShape[outShape.length - 1];
  const mode = opts.mode ?? channelMode(C);
  const n = size(outShape);
  const eps = opts.epsilon !== undefined;
  const { channelNames, vecReadable } = analyse(expr, names);
  const blocked = BLOCK_PIXELS > 0 && C % 4 === 0 && channelNames.length > 0 && vecReadable;
  return runProgram(
    backend,
    flatProgram(
      blocked ? `${key}_v4x${BLOCK_PIXELS}` : `${key}_${mode}`,
      outShape,
      names,
      blocked ? Math.ceil(n / C / BLOCK_PIXELS) * (C / 4) : Math.ceil(n / 4),
      () => blocked ? blockElements(expr, channelNames) : fourElements(mode, expr),
      UNIFORMS + (eps ? "eps : f32," : ""),
      PRELUDE,
      blocked ? vec4Buffers(names.length) : undefined,
    ),
    inputs,
    "float32",
    [{ type: "int32", data: [n, C, C - 1, 0] }, ...(eps ? [{ type: "float32", data: [opts.epsilon!] }] : [])],
  );
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
  const scalar = size(small.shape) === 1;
  const s = scalar ? "s[0]" : "s[c]";
  const expr = CHANNEL_BINARY_OPS[op].replace("a", smallFirst ? s : "x[i]").replace("b", smallFirst ? "x[i]" : s);
  return channelMapWebGpu(
    backend,
    `appaunet_chan_${op}_${smallFirst}_${scalar}`,
    big.shape,
    ["x", "s"],
    [big, small],
    expr,
    {
      mode: scalar ? "pow2" : undefined, // the channel is unused: the cheapest mode
    },
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
  const names = ["x", "mean", "variance", ...(offset ? ["offset"] : []), ...(scale ? ["scale"] : [])];
  const sc = scale ? "scale[c]" : "1.0", off = offset ? "offset[c]" : "0.0";
  const expr = `(x[i] - mean[c]) * (${sc} * inverseSqrt(variance[c] + uniforms.eps)) + ${off}`;
  const inputs = [x, mean, variance, ...(offset ? [offset] : []), ...(scale ? [scale] : [])];
  return channelMapWebGpu(
    backend,
    `appaunet_chan_bn_${Boolean(offset)}_${Boolean(scale)}`,
    x.shape,
    names,
    inputs,
    expr,
    {
      epsilon,
    },
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
  return channelMapWebGpu(backend, "appaunet_chan_tile", outShape, ["x"], [x], "x[c]");
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
    size(reps) * shape[r - 1] >= MIN_FAST_ELEMENTS;
}
