/**
 * BatchNormalization in training mode on `webgpu` in a handful of dispatches. tfjs-layers builds it from
 * `moments` + `batchNorm` and differentiates every op of that graph (about 25 dispatches per layer and step in
 * the backward pass, most over the full activation); here the backward pass is the closed form
 *
 *   x̂ = (x − μ)·r, r = 1/√(σ² + ε), M = N·H·W
 *   dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·r/M · (M·dy − dβ − x̂·dγ)
 *
 * (Ioffe & Szegedy, 2015), run as one reduction pass over (dy, x), two tiny finishing passes and one
 * elementwise pass. Forward: μ (column mean), σ² = mean((x − μ)²) (biased, as tfjs), the normalisation, and the
 * moving averages exactly as tfjs-layers updates them.
 *
 * {@linkcode patchBatchNormalization} installs this as the training path of tfjs-layers' `BatchNormalization`
 * (the class, its name, weights and saved format are unchanged). It applies to channels-last inputs of rank 4
 * with `center` and `scale` on, on the `webgpu` backend while the fast kernels are on; anything else runs
 * tfjs's own code.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { flatProgram, storedAsFloat32, type WebGpuBackendLike } from "./webgpu_program.ts";
import { channelMode, channelOf } from "./webgpu_channel.ts";

/** Variance kernel: `mean((x − μ)²)` over all axes but the last. Inputs `x`, `mean`. */
export const BN_VARIANCE_KERNEL = "AppaunetBatchNormVariance";
/** Backward reduction: `[dβ, dγ]` from inputs `x`, `dy`, `mean`, `variance`; attr `epsilon`. */
export const BN_GRAD_REDUCE_KERNEL = "AppaunetBatchNormGradReduce";
/** Backward elementwise: dx from `x`, `dy`, `mean`, `variance`, `gamma`, `dbeta`, `dgamma`; attr `epsilon`. */
export const BN_GRAD_INPUT_KERNEL = "AppaunetBatchNormGradInput";

const UNIFORMS = "b0 : vec4<i32>, bf : vec4<f32>,";
const PRELUDE = "\n    let R = uniforms.b0.x; let C = uniforms.b0.y; let S = uniforms.b0.z; let RP = uniforms.b0.w;" +
  " let EPS = uniforms.bf.x;";

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Rows (N·H·W), channels, chunks and rows per chunk of a column reduction over `shape`. */
function split(shape: number[]) {
  const C = shape[shape.length - 1];
  const R = shape.reduce((a, b) => a * b, 1) / C;
  const S = Math.max(1, Math.min(Math.ceil(R / 32), Math.ceil(256 / C)));
  return { R, C, S, RP: Math.ceil(R / S) };
}

function uniforms(shape: number[], eps = 0) {
  const { R, C, S, RP } = split(shape);
  return [{ type: "int32", data: [R, C, S, RP] }, { type: "float32", data: [eps, 0, 0, 0] }];
}

/**
 * Partial column sums: `result[s·K·C + k·C + c]` = Σ over rows of chunk `s` of term k (one of `terms`, WGSL
 * expressions of `b = r·C + c` and `c`).
 */
function partialSums(
  backend: WebGpuBackendLike,
  key: string,
  inputs: tf.TensorInfo[],
  names: string[],
  terms: string[],
  shape: number[],
): tf.TensorInfo {
  const { C, S } = split(shape);
  const K = terms.length;
  const acc = terms.map((_, k) => `var a${k} = 0.0;`).join(" ");
  const add = terms.map((t, k) => `a${k} = a${k} + ${t};`).join(" ");
  const store = terms.map((_, k) => `result[s * ${K} * C + ${k} * C + c] = a${k};`).join(" ");
  const code = `
  fn main(index : i32) {
    if (index >= S * C) { return; }
    let c = index % C;
    let s = index / C;
    let r1 = min(R, (s + 1) * RP);
    ${acc}
    for (var r = s * RP; r < r1; r = r + 1) { let b = r * C + c; ${add} }
    ${store}
  }`;
  return backend.runWebGPUProgram(
    flatProgram(key, [S, K, C], names, S * C, code, UNIFORMS, PRELUDE),
    inputs,
    "float32",
    uniforms(shape),
  );
}

/** `result[c]` = `expr(sum)` where `sum` = Σ_s partial[s, k, c] (K terms per chunk). */
function finish(
  backend: WebGpuBackendLike,
  key: string,
  partial: tf.TensorInfo,
  extra: tf.TensorInfo[],
  extraNames: string[],
  k: number,
  K: number,
  expr: string,
  shape: number[],
  eps = 0,
): tf.TensorInfo {
  const { C } = split(shape);
  const code = `
  fn main(index : i32) {
    if (index >= C) { return; }
    let c = index;
    var sum = 0.0;
    for (var s = 0; s < S; s = s + 1) { sum = sum + partial[s * ${K} * C + ${k} * C + c]; }
    result[c] = ${expr};
  }`;
  return backend.runWebGPUProgram(
    flatProgram(key, [C], ["partial", ...extraNames], C, code, UNIFORMS, PRELUDE),
    [partial, ...extra],
    "float32",
    uniforms(shape, eps),
  );
}

function variance(args: KernelArgs): tf.TensorInfo {
  const { x, mean } = args.inputs as { x: tf.TensorInfo; mean: tf.TensorInfo };
  const backend = args.backend as WebGpuBackendLike;
  const part = partialSums(backend, "appaunet_bn_var_part", [x, mean], ["x", "mean"], [
    "(x[b] - mean[c]) * (x[b] - mean[c])",
  ], x.shape);
  const out = finish(backend, "appaunet_bn_var_fin", part, [], [], 0, 1, "sum / f32(R)", x.shape);
  backend.disposeData(part.dataId);
  return out;
}

function gradReduce(args: KernelArgs): tf.TensorInfo[] {
  const { x, dy, mean, variance } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = (args.attrs as unknown as { epsilon: number }).epsilon;
  const backend = args.backend as WebGpuBackendLike;
  const part = partialSums(backend, "appaunet_bn_grad_part", [x, dy, mean], ["x", "dy", "mean"], [
    "dy[b]",
    "dy[b] * (x[b] - mean[c])",
  ], x.shape);
  const dbeta = finish(backend, "appaunet_bn_dbeta", part, [], [], 0, 2, "sum", x.shape);
  const dgamma = finish(
    backend,
    "appaunet_bn_dgamma",
    part,
    [variance],
    ["variance"],
    1,
    2,
    "sum * inverseSqrt(variance[c] + EPS)",
    x.shape,
    eps,
  );
  backend.disposeData(part.dataId);
  return [dbeta, dgamma];
}

function gradInput(args: KernelArgs): tf.TensorInfo {
  const { x, dy, mean, variance, gamma, dbeta, dgamma } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = (args.attrs as unknown as { epsilon: number }).epsilon;
  const backend = args.backend as WebGpuBackendLike;
  const C = x.shape[x.shape.length - 1];
  const n = x.shape.reduce((a, b) => a * b, 1);
  const mode = channelMode(C);
  const body = `{ let r = inverseSqrt(variance[c] + EPS); let M = f32(NE / C);
        result[i] = gamma[c] * r / M * (M * dy[i] - dbeta[c] - (x[i] - mean[c]) * r * dgamma[c]); }`;
  const code = `
  fn main(index : i32) {
    let i0 = index * 4;
    if (i0 >= NE) { return; }
    ${mode === "mod4" ? "let c0 = i0 % C;" : ""}
    ${
    [0, 1, 2, 3].map((k) => `{ let i = i0 + ${k}; if (i < NE) { let c = ${channelOf(mode, k)}; ${body} } }`).join(
      "\n    ",
    )
  }
  }`;
  const names = ["x", "dy", "mean", "variance", "gamma", "dbeta", "dgamma"];
  return backend.runWebGPUProgram(
    flatProgram(
      `appaunet_bn_dx_${mode}`,
      x.shape,
      names,
      Math.ceil(n / 4),
      code,
      "e0 : vec4<i32>, bf : vec4<f32>,",
      "\n    let NE = uniforms.e0.x; let C = uniforms.e0.y; let M = uniforms.e0.z; let EPS = uniforms.bf.x;",
    ),
    [x, dy, mean, variance, gamma, dbeta, dgamma],
    "float32",
    [{ type: "int32", data: [n, C, C - 1, 0] }, { type: "float32", data: [eps, 0, 0, 0] }],
  );
}

let registered = false;

/** Registers the three batch-norm kernels for `webgpu` (idempotent). */
export function registerBatchNormKernels(): void {
  if (registered) return;
  const k = (kernelName: string, kernelFunc: unknown) =>
    tf.registerKernel({ kernelName, backendName: "webgpu", kernelFunc: kernelFunc as tf.KernelFunc });
  k(BN_VARIANCE_KERNEL, variance);
  k(BN_GRAD_REDUCE_KERNEL, gradReduce);
  k(BN_GRAD_INPUT_KERNEL, gradInput);
  registered = true;
}

/** The fields of tfjs-layers' BatchNormalization the fast path reads. */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: LayerVariable;
  beta: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

/** The part of a tfjs-layers LayerVariable used here. */
interface LayerVariable {
  read(): tf.Tensor;
  write(t: tf.Tensor): void;
}

/** One batch-norm training forward (fused backward), or `undefined` when the input is not eligible. */
function trainingCall(layer: BatchNormLayer, input: tf.Tensor): tf.Tensor | undefined {
  const axis = layer.axis < 0 ? layer.axis + input.rank : layer.axis;
  if (input.rank !== 4 || axis !== 3 || !layer.center || !layer.scale) return undefined;
  const gamma = layer.gamma.read(), beta = layer.beta.read();
  if (!storedAsFloat32(tf.backend(), input, gamma, beta)) return undefined;
  const eps = layer.epsilon;
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number> = {}) =>
    tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap);
  return tf.tidy(() => {
    let mean!: tf.Tensor, variance!: tf.Tensor;
    const f = tf.customGrad((x, g, b, save) => {
      const xs = x as tf.Tensor4D;
      // Kept: the forward runs inside a tidy that only keeps its output; the moving averages below need them.
      mean = tf.keep(tf.mean(xs, [0, 1, 2]));
      variance = tf.keep(run(BN_VARIANCE_KERNEL, { x: xs, mean }) as tf.Tensor);
      const y = tf.batchNorm4d(
        xs,
        mean as tf.Tensor1D,
        variance as tf.Tensor1D,
        b as tf.Tensor1D,
        g as tf.Tensor1D,
        eps,
      );
      (save as (ts: tf.Tensor[]) => void)([xs, g as tf.Tensor, mean, variance]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [sx, sg, sm, sv] = saved;
          const d = Array.isArray(dy) ? dy[0] : dy;
          const [dbeta, dgamma] = run(BN_GRAD_REDUCE_KERNEL, { x: sx, dy: d, mean: sm, variance: sv }, {
            epsilon: eps,
          }) as tf.Tensor[];
          const dx = run(BN_GRAD_INPUT_KERNEL, {
            x: sx,
            dy: d,
            mean: sm,
            variance: sv,
            gamma: sg,
            dbeta,
            dgamma,
          }, { epsilon: eps }) as tf.Tensor;
          return [dx, dgamma, dbeta];
        },
      };
    });
    const y = f(input, gamma, beta);
    // Moving averages, as tfjs-layers: v ← v − (v − batch)·(1 − momentum).
    for (const [v, batch] of [[layer.movingMean, mean], [layer.movingVariance, variance]] as const) {
      tf.tidy(() => {
        const orig = v.read();
        v.write(tf.sub(orig, tf.mul(tf.sub(orig, batch), 1 - layer.momentum)));
      });
    }
    mean.dispose();
    variance.dispose();
    return y;
  });
}

let patched = false;

/**
 * Makes tfjs-layers' `BatchNormalization` use the fused training path above when `enabled()` says so (the
 * kernel registry passes "webgpu backend and fast kernels on"). Idempotent.
 *
 * @param enabled whether the fast path may run now
 */
export function patchBatchNormalization(enabled: () => boolean): void {
  if (patched) return;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap["BatchNormalization"];
  if (!entry) return;
  const proto = (entry[0] as unknown as { prototype: Record<string, unknown> }).prototype;
  const original = proto.call as (this: unknown, inputs: unknown, kwargs: Record<string, unknown>) => tf.Tensor;
  proto.call = function (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const single = !Array.isArray(inputs) || inputs.length === 1;
    if (Boolean(kwargs?.training) && single && enabled() && tf.getBackend() === "webgpu") {
      const out = trainingCall(this, Array.isArray(inputs) ? inputs[0] : inputs);
      if (out) return out;
    }
    return original.call(this, inputs, kwargs);
  };
  patched = true;
}
