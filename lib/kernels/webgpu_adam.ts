/**
 * Fused Adam update kernels for the tfjs `webgpu` backend (used by {@linkcode FusedAdamOptimizer} in
 * `lib/train/adam.ts`). Stock `tf.train.adam` runs about 14 elementwise dispatches per variable and step; these
 * are 3: the first moment, the second moment, and the parameter update (4 elements per invocation through `vec4`
 * buffers when the variable's size is a multiple of 4).
 *
 * - `AppaunetAdamMoment` (inputs `m`, `g`; attrs `beta`, `square`): `β·m + (1 − β)·g` (`g²` when `square`).
 * - `AppaunetAdamUpdate` (inputs `value`, `m`, `v`, `k`): `value − lr · (m / c1) / (√(v / c2) + ε)`, where `k` is the
 *   float32 tensor `[lr, c1, c2, ε]`, `c1 = 1 − β₁ᵗ` and `c2 = 1 − β₂ᵗ` (bias corrections). The coefficients are a
 *   tensor rather than uniforms because the corrections change every step: uniform values that change would make
 *   every update dispatch miss the dispatch caches of `lib/webgpu_dispatch_cache.ts`.
 * - {@linkcode adamStepInPlace}: the same three dispatches, writing into the buffers of `m`, `v` and the variable
 *   themselves. No tensor is created or released, so the buffers that hold the model's state stay the same from
 *   step to step; with the dispatch caches' buffer pool a repeated training step then gets the same buffers in the
 *   same places and finds its bind groups in the cache.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { flatProgram, ownsData, type Program, runProgram, type WebGpuBackendLike } from "./webgpu_program.ts";

/** Kernel name of the fused moment update. */
export const ADAM_MOMENT_KERNEL = "AppaunetAdamMoment";
/** Kernel name of the fused parameter update. */
export const ADAM_UPDATE_KERNEL = "AppaunetAdamUpdate";

const PRELUDE = "\n    let NE = uniforms.n;";

const size = tf.util.sizeFromShape;

/** Elements per invocation: 4 (`vec4` buffers, half the load instructions on a CPU adapter) when the size allows. */
const width = (shape: number[]) => (size(shape) % 4 === 0 ? 4 : 1);

/** Invocations of a program over a tensor of this shape (one per `width` elements). */
const invocations = (shape: number[]) => size(shape) / width(shape);

/**
 * The moment program: `result = β·old + (1 − β)·g` (or `g²`), where `old` is the input `m` or, in place, the
 * output buffer itself.
 */
function momentProgram(shape: number[], square: boolean, inPlace: boolean): Program {
  const w = width(shape);
  const gg = square ? "g[index] * g[index]" : "g[index]";
  const old = inPlace ? "result[index]" : "m[index]";
  const names = inPlace ? ["g"] : ["m", "g"];
  const code = () => `
  fn main(index : i32) {
    if (index >= NE) { return; }
    result[index] = uniforms.p.x * ${old} + uniforms.p.y * ${gg};
  }`;
  const key = `appaunet_adam_moment_${inPlace ? "inplace_" : ""}${square}_${w}`;
  const components = w === 4 ? { inputs: names.map(() => 4), output: 4 } : undefined;
  return flatProgram(key, shape, names, invocations(shape), code, "p : vec2<f32>, n : i32,", PRELUDE, components);
}

/** The parameter update program; `old` is the input `value` or, in place, the output buffer itself. */
function updateProgram(shape: number[], inPlace: boolean): Program {
  const w = width(shape);
  const old = inPlace ? "result[index]" : "value[index]";
  const names = inPlace ? ["m", "v", "k"] : ["value", "m", "v", "k"];
  const code = () => `
  fn main(index : i32) {
    if (index >= NE) { return; }
    result[index] = ${old} - k[0] * (m[index] / k[1]) / (sqrt(v[index] / k[2]) + k[3]);
  }`;
  const key = `appaunet_adam_update_${inPlace ? "inplace_" : ""}${w}`;
  const components = w === 4 ? { inputs: names.map((x) => x === "k" ? 1 : 4), output: 4 } : undefined;
  return flatProgram(key, shape, names, invocations(shape), code, "n : i32,", PRELUDE, components);
}

const momentUniforms = (shape: number[], beta: number) => [
  { type: "float32", data: [beta, 1 - beta] },
  { type: "int32", data: [invocations(shape)] },
];

const updateUniforms = (shape: number[]) => [{ type: "int32", data: [invocations(shape)] }];

function moment(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { m, g } = args.inputs as { m: tf.TensorInfo; g: tf.TensorInfo };
  const { beta, square } = args.attrs as unknown as { beta: number; square: boolean };
  const program = momentProgram(m.shape, square, false);
  return runProgram(args.backend as WebGpuBackendLike, program, [m, g], "float32", momentUniforms(m.shape, beta));
}

function update(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { value, m, v, k } = args.inputs as Record<string, tf.TensorInfo>;
  const program = updateProgram(value.shape, false);
  return runProgram(
    args.backend as WebGpuBackendLike,
    program,
    [value, m, v, k],
    "float32",
    updateUniforms(value.shape),
  );
}

/** Adam's hyper-parameters for one step, as {@linkcode adamStepInPlace} takes them. */
export interface AdamStep {
  /** Decay of the first moment (β₁). */
  beta1: number;
  /** Decay of the second moment (β₂). */
  beta2: number;
  /** The float32 tensor `[lr, 1 − β₁ᵗ, 1 − β₂ᵗ, ε]` (learning rate, bias corrections, denominator term). */
  coefficients: tf.TensorInfo;
}

/**
 * One Adam step for one variable on the webgpu backend, written into the data of `m`, `v` and `value` in place
 * (three dispatches; the WGSL reads the old value from the output buffer `result` it overwrites). Does nothing and
 * returns false, so that the caller takes the out-of-place kernels, when one of the three shares its data with
 * another tensor ({@linkcode ownsData}: a clone, or a copy a gradient tape saved) or is `g` or the coefficients.
 *
 * @param backend the webgpu backend
 * @param state the variable, its two moments and its gradient (all float32 in storage, same size)
 * @param step the hyper-parameters
 * @returns whether the step was applied
 */
export function adamStepInPlace(
  backend: unknown,
  state: { value: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo; g: tf.TensorInfo },
  step: AdamStep,
): boolean {
  const { value, m, v, g } = state;
  const others = [g.dataId, step.coefficients.dataId];
  if (![value, m, v].every((t) => ownsData(backend, t) && !others.includes(t.dataId))) return false;
  const b = backend as WebGpuBackendLike;
  runProgram(b, momentProgram(m.shape, false, true), [g], "float32", momentUniforms(m.shape, step.beta1), m);
  runProgram(b, momentProgram(v.shape, true, true), [g], "float32", momentUniforms(v.shape, step.beta2), v);
  runProgram(
    b,
    updateProgram(value.shape, true),
    [m, v, step.coefficients],
    "float32",
    updateUniforms(value.shape),
    value,
  );
  return true;
}

let registered = false;

/** Registers the two fused Adam kernels for `webgpu` (idempotent). */
export function registerAdamKernels(): void {
  if (registered) return;
  tf.registerKernel({ kernelName: ADAM_MOMENT_KERNEL, backendName: "webgpu", kernelFunc: moment as tf.KernelFunc });
  tf.registerKernel({ kernelName: ADAM_UPDATE_KERNEL, backendName: "webgpu", kernelFunc: update as tf.KernelFunc });
  registered = true;
}
