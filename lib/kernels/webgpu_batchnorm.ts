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
import { type BatchNormLayer, layerPrototype } from "./tfjs_internals.ts";
import { storedAsFloat32, type WebGpuBackendLike } from "./webgpu_program.ts";
import { channelMapWebGpu } from "./webgpu_channel.ts";
import { columnFinish, columnPartialSums } from "./webgpu_reduce.ts";

/** Variance kernel: `mean((x − μ)²)` over all axes but the last. Inputs `x`, `mean`. */
export const BN_VARIANCE_KERNEL = "AppaunetBatchNormVariance";
/** Backward reduction: `[dβ, dγ]` from inputs `x`, `dy`, `mean`, `variance`; attr `epsilon`. */
export const BN_GRAD_REDUCE_KERNEL = "AppaunetBatchNormGradReduce";
/** Backward elementwise: dx from `x`, `dy`, `mean`, `variance`, `gamma`, `dbeta`, `dgamma`; attr `epsilon`. */
export const BN_GRAD_INPUT_KERNEL = "AppaunetBatchNormGradInput";
/**
 * Moving-average update `v − (v − batch)·decay` (tfjs-layers' formula, decay = 1 − momentum) in one pass instead of
 * tfjs's three (`sub`, `mul`, `sub`); inputs `v`, `batch`; attr `decay`.
 */
export const BN_MOVING_AVERAGE_KERNEL = "AppaunetBatchNormMovingAverage";

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function variance(args: KernelArgs): tf.TensorInfo {
  const { x, mean } = args.inputs as { x: tf.TensorInfo; mean: tf.TensorInfo };
  const backend = args.backend as WebGpuBackendLike;
  const part = columnPartialSums(backend, "appaunet_bn_var_part", [x, mean], ["x", "mean"], [
    (b) => `(x[${b}] - mean[c]) * (x[${b}] - mean[c])`,
  ], x.shape);
  const C = x.shape[x.shape.length - 1];
  const out = columnFinish(backend, "appaunet_bn_var_fin", part, [], [], 0, 1, "sum / f32(R)", [C], x.shape);
  backend.disposeData(part.dataId);
  return out;
}

function gradReduce(args: KernelArgs): tf.TensorInfo[] {
  const { x, dy, mean, variance } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = (args.attrs as unknown as { epsilon: number }).epsilon;
  const backend = args.backend as WebGpuBackendLike;
  const C = x.shape[x.shape.length - 1];
  const part = columnPartialSums(backend, "appaunet_bn_grad_part", [x, dy, mean], ["x", "dy", "mean"], [
    (b) => `dy[${b}]`,
    (b) => `dy[${b}] * (x[${b}] - mean[c])`,
  ], x.shape);
  const dbeta = columnFinish(backend, "appaunet_bn_dbeta", part, [], [], 0, 2, "sum", [C], x.shape);
  const dgamma = columnFinish(
    backend,
    "appaunet_bn_dgamma",
    part,
    [variance],
    ["variance"],
    1,
    2,
    "sum * inverseSqrt(variance[c] + EPS)",
    [C],
    x.shape,
    eps,
  );
  backend.disposeData(part.dataId);
  return [dbeta, dgamma];
}

function gradInput(args: KernelArgs): tf.TensorInfo {
  const { x, dy, mean, variance, gamma, dbeta, dgamma } = args.inputs as Record<string, tf.TensorInfo>;
  const epsilon = (args.attrs as unknown as { epsilon: number }).epsilon;
  // dx = γ·r/M · (M·dy − dβ − (x − μ)·r·dγ), r = 1/√(σ² + ε), M = N·H·W.
  const r = "inverseSqrt(variance[c] + uniforms.eps)", m = "f32(NE / C)";
  const expr = `gamma[c] * ${r} / ${m} * (${m} * dy[i] - dbeta[c] - (x[i] - mean[c]) * ${r} * dgamma[c])`;
  const names = ["x", "dy", "mean", "variance", "gamma", "dbeta", "dgamma"];
  return channelMapWebGpu(
    args.backend as WebGpuBackendLike,
    "appaunet_bn_dx",
    x.shape,
    names,
    [x, dy, mean, variance, gamma, dbeta, dgamma],
    expr,
    { epsilon },
  );
}

function movingAverage(args: KernelArgs): tf.TensorInfo {
  const { v, batch } = args.inputs as { v: tf.TensorInfo; batch: tf.TensorInfo };
  const decay = (args.attrs as unknown as { decay: number }).decay;
  return channelMapWebGpu(
    args.backend as WebGpuBackendLike,
    "appaunet_bn_moving",
    v.shape,
    ["v", "batch"],
    [v, batch],
    "v[i] - (v[i] - batch[i]) * uniforms.eps", // the uniform carries decay
    { epsilon: decay },
  );
}

let registered = false;

/** Registers the batch-norm kernels for `webgpu` (idempotent). */
export function registerBatchNormKernels(): void {
  if (registered) return;
  const k = (kernelName: string, kernelFunc: unknown) =>
    tf.registerKernel({ kernelName, backendName: "webgpu", kernelFunc: kernelFunc as tf.KernelFunc });
  k(BN_VARIANCE_KERNEL, variance);
  k(BN_GRAD_REDUCE_KERNEL, gradReduce);
  k(BN_MOVING_AVERAGE_KERNEL, movingAverage);
  k(BN_GRAD_INPUT_KERNEL, gradInput);
  registered = true;
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
    // Moving averages, as tfjs-layers: v ← v − (v − batch)·(1 − momentum), one dispatch each.
    for (const [v, batch] of [[layer.movingMean, mean], [layer.movingVariance, variance]] as const) {
      tf.tidy(() =>
        v.write(run(BN_MOVING_AVERAGE_KERNEL, { v: v.read(), batch }, { decay: 1 - layer.momentum }) as tf.Tensor)
      );
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
  const proto = layerPrototype("BatchNormalization");
  if (!proto) return;
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
