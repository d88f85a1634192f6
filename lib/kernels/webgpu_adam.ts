/**
 * Fused Adam update kernels for the tfjs `webgpu` backend (used by {@linkcode FusedAdamOptimizer} in
 * `lib/train/adam.ts`). Stock `tf.train.adam` runs about 14 elementwise dispatches per variable and step; these
 * are 3: the first moment, the second moment, and the parameter update (4 elements per invocation through `vec4`
 * buffers when the variable's size is a multiple of 4).
 *
 * - `AppaunetAdamMoment` (inputs `m`, `g`; attrs `beta`, `square`): `β·m + (1 − β)·g` (`g²` when `square`).
 * - `AppaunetAdamUpdate` (inputs `value`, `m`, `v`; attrs `lr`, `c1`, `c2`, `epsilon`):
 *   `value − lr · (m / c1) / (√(v / c2) + ε)`, where `c1 = 1 − β₁ᵗ`, `c2 = 1 − β₂ᵗ` (bias corrections).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { flatProgram, runProgram, vec4Buffers, type WebGpuBackendLike } from "./webgpu_program.ts";

/** Kernel name of the fused moment update. */
export const ADAM_MOMENT_KERNEL = "AppaunetAdamMoment";
/** Kernel name of the fused parameter update. */
export const ADAM_UPDATE_KERNEL = "AppaunetAdamUpdate";

const UNIFORMS = "p : vec4<f32>, n : i32,";
const PRELUDE = "\n    let NE = uniforms.n;";

const size = tf.util.sizeFromShape;

/** Elements per invocation: 4 (`vec4` buffers, half the load instructions on a CPU adapter) when the size allows. */
const width = (n: number) => (n % 4 === 0 ? 4 : 1);

/** `vec4` typing of `inputs` buffers and the output when `w` is 4. */
const vec = (inputs: number, w: number) => w === 4 ? vec4Buffers(inputs) : undefined;

function moment(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { m, g } = args.inputs as { m: tf.TensorInfo; g: tf.TensorInfo };
  const { beta, square } = args.attrs as unknown as { beta: number; square: boolean };
  const n = size(m.shape), w = width(n);
  const gg = square ? "g[index] * g[index]" : "g[index]";
  const code = () => `
  fn main(index : i32) {
    if (index >= NE) { return; }
    result[index] = uniforms.p.x * m[index] + uniforms.p.y * ${gg};
  }`;
  const backend = args.backend as WebGpuBackendLike;
  return runProgram(
    backend,
    flatProgram(`appaunet_adam_moment_${square}_${w}`, m.shape, ["m", "g"], n / w, code, UNIFORMS, PRELUDE, vec(2, w)),
    [m, g],
    "float32",
    [{ type: "float32", data: [beta, 1 - beta, 0, 0] }, { type: "int32", data: [n / w] }],
  );
}

function update(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { value, m, v } = args.inputs as { value: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo };
  const { lr, c1, c2, epsilon } = args.attrs as unknown as { lr: number; c1: number; c2: number; epsilon: number };
  const n = size(value.shape), w = width(n);
  const code = () => `
  fn main(index : i32) {
    if (index >= NE) { return; }
    let p = uniforms.p;
    result[index] = value[index] - p.x * (m[index] / p.y) / (sqrt(v[index] / p.z) + p.w);
  }`;
  const backend = args.backend as WebGpuBackendLike;
  return runProgram(
    backend,
    flatProgram(
      `appaunet_adam_update_${w}`,
      value.shape,
      ["value", "m", "v"],
      n / w,
      code,
      UNIFORMS,
      PRELUDE,
      vec(3, w),
    ),
    [value, m, v],
    "float32",
    [{ type: "float32", data: [lr, c1, c2, epsilon] }, { type: "int32", data: [n / w] }],
  );
}

let registered = false;

/** Registers the two fused Adam kernels for `webgpu` (idempotent). */
export function registerAdamKernels(): void {
  if (registered) return;
  tf.registerKernel({ kernelName: ADAM_MOMENT_KERNEL, backendName: "webgpu", kernelFunc: moment as tf.KernelFunc });
  tf.registerKernel({ kernelName: ADAM_UPDATE_KERNEL, backendName: "webgpu", kernelFunc: update as tf.KernelFunc });
  registered = true;
}
