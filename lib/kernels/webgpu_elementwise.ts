/**
 * ReLU, `step` and the ReLU and LeakyReLU gradients on `webgpu` with `vec4<f32>` buffers (4 elements per load, store
 * and invocation). tfjs-webgpu 4.22 runs these unary ops one float per invocation; on a CPU adapter such as lavapipe an
 * elementwise kernel's time is set by its load and store instructions, so the `vec4` form runs about twice as fast.
 * The ReLU gradient, which tfjs computes as `dy · step(x)` (two passes over the activation), is one pass here
 * ({@linkcode registerActivationGradients}); so is LeakyReLU's (`where(x > 0, dy, α·dy)`, three dispatches in tfjs).
 *
 * NaN behaves as in stock tfjs: `relu(NaN) = NaN`, `step(NaN) = NaN`, the ReLU gradient at a NaN input is NaN and
 * LeakyReLU's is `α·dy`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  flatProgram,
  MIN_FAST_ELEMENTS,
  runProgram,
  storedAsFloat32,
  vec4Buffers,
  type WebGpuBackendLike,
} from "./webgpu_program.ts";

/** Kernel name of the one-pass ReLU gradient: inputs `dy`, `x`; output `dy · step(x)`. */
export const RELU_GRAD_KERNEL = "AppaunetReluGrad";
/** Kernel name of the one-pass LeakyReLU gradient: inputs `dy`, `x`, attr `alpha`; output `x > 0 ? dy : α·dy`. */
export const LEAKY_RELU_GRAD_KERNEL = "AppaunetLeakyReluGrad";

const size = tf.util.sizeFromShape;

/** WGSL: true in the lanes of `v` that hold NaN (by bit pattern, which no compiler may fold away). */
const isNan = (v: string) => `((bitcast<vec4<u32>>(${v}) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u))`;

/** WGSL of `step(a)` with `uniforms.alpha` below 0 (as tfjs: `a > 0 ? 1 : alpha`, NaN stays NaN). */
const step = (a: string, alpha: string) =>
  `select(select(vec4<f32>(${alpha}), vec4<f32>(1.0), ${a} > vec4<f32>(0.0)), ${a}, ${isNan(a)})`;

/**
 * Whether the `vec4` kernels here take these tensors: all stored as float32, with a size that is a multiple of 4
 * and at least {@linkcode MIN_FAST_ELEMENTS}.
 *
 * @param backend the backend holding the data
 * @param ts the kernel's inputs (same size)
 * @returns true when the kernels of this file apply
 */
export function vec4Eligible(backend: unknown, ...ts: tf.TensorInfo[]): boolean {
  const n = size(ts[0].shape);
  return n % 4 === 0 && n >= MIN_FAST_ELEMENTS && storedAsFloat32(backend, ...ts);
}

/**
 * `result = expr` over `vec4` groups of elements; `expr` reads the inputs as `name[index]`.
 *
 * @param backend the webgpu backend
 * @param key shader cache key
 * @param shape output shape (the inputs have the same size)
 * @param names input buffer names
 * @param inputs input tensors, in `names` order
 * @param expr WGSL of a `vec4<f32>` in `index` and the inputs (and `uniforms.alpha`)
 * @param alpha value passed as `uniforms.alpha`
 * @returns the output
 */
function vec4Map(
  backend: WebGpuBackendLike,
  key: string,
  shape: number[],
  names: string[],
  inputs: tf.TensorInfo[],
  expr: string,
  alpha = 0,
): tf.TensorInfo {
  const n4 = size(shape) / 4;
  const code = () => `
  fn main(index : i32) {
    if (index >= N4) { return; }
    result[index] = ${expr};
  }`;
  return runProgram(
    backend,
    flatProgram(
      key,
      shape,
      names,
      n4,
      code,
      "n4 : i32, alpha : f32,",
      "\n    let N4 = uniforms.n4;",
      vec4Buffers(names.length),
    ),
    inputs,
    "float32",
    [{ type: "int32", data: [n4] }, { type: "float32", data: [alpha] }],
  );
}

/**
 * `relu(x)` with `vec4` buffers (check {@linkcode vec4Eligible} first).
 *
 * @param backend the webgpu backend
 * @param x input
 * @returns `max(x, 0)`, NaN kept
 */
export function reluWebGpu(backend: WebGpuBackendLike, x: tf.TensorInfo): tf.TensorInfo {
  return vec4Map(
    backend,
    "appaunet_relu4",
    x.shape,
    ["x"],
    [x],
    "select(x[index], vec4<f32>(0.0), x[index] < vec4<f32>(0.0))",
  );
}

/**
 * tfjs's `step(x, alpha)` with `vec4` buffers: 1 where `x > 0`, `alpha` elsewhere, NaN where `x` is NaN.
 *
 * @param backend the webgpu backend
 * @param x input
 * @param alpha the value for `x ≤ 0`
 * @returns the step
 */
export function stepWebGpu(backend: WebGpuBackendLike, x: tf.TensorInfo, alpha: number): tf.TensorInfo {
  return vec4Map(backend, "appaunet_step4", x.shape, ["x"], [x], step("x[index]", "uniforms.alpha"), alpha);
}

function reluGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  return vec4Map(
    args.backend as WebGpuBackendLike,
    "appaunet_relu_grad4",
    x.shape,
    ["dy", "x"],
    [dy, x],
    `dy[index] * ${step("x[index]", "0.0")}`,
  );
}

function leakyReluGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const alpha = (args.attrs as unknown as { alpha: number }).alpha;
  // As tfjs: where(x > 0, dy, dy · α) (NaN in x takes the α branch, as `greater` is false there).
  return vec4Map(
    args.backend as WebGpuBackendLike,
    "appaunet_leaky_relu_grad4",
    x.shape,
    ["dy", "x"],
    [dy, x],
    "select(dy[index] * uniforms.alpha, dy[index], x[index] > vec4<f32>(0.0))",
    alpha,
  );
}

let registered = false;

/**
 * Registers {@linkcode RELU_GRAD_KERNEL} and {@linkcode LEAKY_RELU_GRAD_KERNEL} for `webgpu` and makes tfjs's ReLU and
 * LeakyReLU gradients use them (one pass instead of `step` then `mul`, or `greater`, `mul` and `where`) while
 * `enabled()` says so (the kernel registry passes "fast kernels on") on the `webgpu` backend for float32 tensors whose
 * size is a multiple of 4; otherwise the gradients are tfjs's own. Idempotent.
 *
 * @param enabled whether the fused gradient may run now
 */
export function registerActivationGradients(enabled: () => boolean): void {
  if (registered) return;
  tf.registerKernel({
    kernelName: RELU_GRAD_KERNEL,
    backendName: "webgpu",
    kernelFunc: reluGrad as unknown as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: LEAKY_RELU_GRAD_KERNEL,
    backendName: "webgpu",
    kernelFunc: leakyReluGrad as unknown as tf.KernelFunc,
  });
  const fused = (d: tf.Tensor, x: tf.Tensor) =>
    enabled() && tf.getBackend() === "webgpu" && vec4Eligible(tf.backend(), d, x);
  tf.registerGradient({
    kernelName: "LeakyRelu",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const d = dy as tf.Tensor, alpha = (attrs as unknown as { alpha: number }).alpha;
      const attr = { alpha } as unknown as tf.NamedAttrMap;
      return {
        x: () =>
          fused(d, x)
            ? tf.engine().runKernel(LEAKY_RELU_GRAD_KERNEL, { dy: d, x }, attr) as tf.Tensor
            : tf.where(tf.greater(x, 0), d, tf.mul(d, alpha)),
      };
    },
  });
  tf.registerGradient({
    kernelName: "Relu",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      return {
        x: () =>
          fused(d, x)
            ? tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: d, x }) as tf.Tensor
            : tf.mul(d, tf.cast(tf.step(x), "float32")),
      };
    },
  });
  registered = true;
}
