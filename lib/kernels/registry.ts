/**
 * Switching between stock tfjs kernels and appaunet's faster replacements (`useFastKernels`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { backend_util } from "@tensorflow/tfjs";
import { MIN_FAST_ELEMENTS, storedAsFloat32 } from "./webgpu_program.ts";
import { registerAdamKernels } from "./webgpu_adam.ts";
import { concatLastWebGpu, isLastAxisConcat, sliceLastWebGpu } from "./webgpu_concat.ts";
import { patchBatchNormalization, registerBatchNormKernels } from "./webgpu_batchnorm.ts";
import { patchFusedConvGradient } from "./fused_conv_gradient.ts";
import { makeCpuConv2DBackpropFilter } from "./cpu_conv2d_backprop_filter.ts";
import { columnReduceWebGpu, isColumnReduction, isShortRowReduction, rowReduceWebGpu } from "./webgpu_reduce.ts";
import {
  channelBatchNormWebGpu,
  type ChannelBinaryOp,
  channelBinaryWebGpu,
  channelTileWebGpu,
  isChannelBroadcast,
  isChannelTile,
} from "./webgpu_channel.ts";
import {
  conv2dBackpropFilterWebGpu,
  conv2dBackpropInputWebGpu,
  conv2dWebGpu,
  fastConvEligible,
  type FusedActivation,
} from "./webgpu_conv.ts";
export { useWinograd, winogradOutputTile } from "./webgpu_winograd.ts";
import { onGpu, winogradWorthIt } from "./policy.ts";
export { type KernelTarget, kernelTarget, setKernelTarget } from "./policy.ts";
import { isMaxPool2x2, maxPool2x2WebGpu, maxPoolGrad2x2WebGpu } from "./webgpu_pool.ts";
import { registerActivationGradients, reluWebGpu, stepWebGpu, vec4Eligible } from "./webgpu_elementwise.ts";
import {
  conv2dBackpropFilterWinogradWebGpu,
  conv2dBackpropInputWinogradWebGpu,
  conv2dWinogradWebGpu,
  recordingGradients,
  winogradEligible,
} from "./webgpu_winograd.ts";

interface Replacement {
  kernelName: string;
  backendName: string;
  make: (stock: tf.KernelFunc) => tf.KernelFunc;
}

// deno-lint-ignore no-explicit-any
type AnyBackend = any;
type Attrs = Record<string, unknown>;

/** Winograd for this convolution: eligible, and worth its extra dispatches on this adapter (see policy.ts). */
function useWinogradFor(backend: unknown, info: backend_util.Conv2DInfo, training: boolean): boolean {
  if (!winogradEligible(info)) return false;
  const flops = 2 * info.batchSize * info.outHeight * info.outWidth * 9 * info.inChannels * info.outChannels;
  return winogradWorthIt(backend, flops, training);
}

function convInfo(xShape: number[], filterShape: number[], a: Attrs, dilations: unknown = 1) {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides as [number, number],
    dilations as [number, number],
    a.pad as "same",
    a.dimRoundingMode as "floor" | undefined,
    false,
    backend_util.convertConv2DDataFormat(a.dataFormat as "NHWC"),
  );
}

const webgpuBackpropFilter = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs as Attrs;
  const info = convInfo(x.shape, a.filterShape as number[], a);
  if (!fastConvEligible(info) || !storedAsFloat32(args.backend, x, dy)) return stock(args);
  if (useWinogradFor(args.backend, info, true)) {
    return conv2dBackpropFilterWinogradWebGpu(args.backend as AnyBackend, x, dy, info);
  }
  return conv2dBackpropFilterWebGpu(args.backend as AnyBackend, x, dy, info);
};

const webgpuBackpropInput = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as Attrs;
  const info = convInfo(a.inputShape as number[], filter.shape, a);
  if (!fastConvEligible(info) || !storedAsFloat32(args.backend, dy, filter)) return stock(args);
  if (useWinogradFor(args.backend, info, true)) {
    return conv2dBackpropInputWinogradWebGpu(args.backend as AnyBackend, dy, filter, info);
  }
  if (onGpu(args.backend)) return stock(args); // see policy.ts
  return conv2dBackpropInputWebGpu(args.backend as AnyBackend, dy, filter, info);
};

const webgpuConv = (fused: boolean) => (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const a = args.attrs as Attrs;
  const info = convInfo(x!.shape, filter!.shape, a, a.dilations ?? 1);
  const activation = (fused ? a.activation ?? "linear" : "linear") as string;
  const biasOk = !bias || (tf.util.sizeFromShape(bias.shape) === info.outChannels && bias.shape.length === 1);
  if (
    !fastConvEligible(info) || !storedAsFloat32(args.backend, x, filter, bias) || preluActivationWeights || !biasOk ||
    (activation !== "linear" && activation !== "relu")
  ) return stock(args);
  if (useWinogradFor(args.backend, info, recordingGradients())) {
    return conv2dWinogradWebGpu(args.backend as AnyBackend, x!, filter!, bias, activation as FusedActivation, info);
  }
  // On a GPU the direct kernel only wins with 1–2 input or output channels (see policy.ts).
  if (onGpu(args.backend) && info.inChannels > 2 && info.outChannels > 2) return stock(args);
  return conv2dWebGpu(args.backend as AnyBackend, x!, filter!, bias, activation as FusedActivation, info);
};

const webgpuReduce = (mean: boolean) => (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const a = args.attrs as Attrs;
  if (!storedAsFloat32(args.backend, x)) return stock(args);
  const axis = a.axis as number | number[];
  if (isColumnReduction(x.shape, axis)) {
    if (onGpu(args.backend)) return stock(args); // see policy.ts
    return columnReduceWebGpu(args.backend as AnyBackend, x, Boolean(a.keepDims), mean);
  }
  if (isShortRowReduction(x.shape, axis)) {
    return rowReduceWebGpu(args.backend as AnyBackend, x, Boolean(a.keepDims), mean);
  }
  return stock(args);
};

const webgpuChannelBinary = (op: ChannelBinaryOp) => (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (!storedAsFloat32(args.backend, a, b)) return stock(args);
  if (isChannelBroadcast(a.shape, b.shape)) return channelBinaryWebGpu(args.backend as AnyBackend, op, a, b, false);
  if (isChannelBroadcast(b.shape, a.shape)) return channelBinaryWebGpu(args.backend as AnyBackend, op, a, b, true);
  return stock(args);
};

const webgpuBatchNorm = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const params = [mean, variance, offset, scale].filter((p): p is tf.TensorInfo => p != null);
  const C = x!.shape[x!.shape.length - 1];
  const perChannel = (p: tf.TensorInfo) =>
    isChannelBroadcast(x!.shape, p.shape) && tf.util.sizeFromShape(p.shape) === C;
  if (!storedAsFloat32(args.backend, x, ...params) || !mean || !variance || !params.every(perChannel)) {
    return stock(args);
  }
  const eps = (args.attrs as Attrs).varianceEpsilon as number;
  return channelBatchNormWebGpu(args.backend as AnyBackend, x!, mean, variance, offset, scale, eps);
};

const webgpuTile = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const reps = (args.attrs as Attrs).reps as number[];
  if (!storedAsFloat32(args.backend, x) || !isChannelTile(x.shape, reps)) return stock(args);
  return channelTileWebGpu(args.backend as AnyBackend, x, reps);
};

const bigEnough = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape) >= MIN_FAST_ELEMENTS;

const webgpuConcat = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const parts = args.inputs as unknown as tf.TensorInfo[];
  const axis = (args.attrs as Attrs).axis as number;
  if (
    !Array.isArray(parts) || onGpu(args.backend) || !storedAsFloat32(args.backend, ...parts) ||
    !isLastAxisConcat(parts.map((p) => p.shape), axis) ||
    !parts.some(bigEnough)
  ) return stock(args);
  return concatLastWebGpu(args.backend as AnyBackend, parts);
};

const webgpuSplitV = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const a = args.attrs as Attrs;
  const r = x.shape.length;
  const axis = (a.axis as number) < 0 ? (a.axis as number) + r : (a.axis as number);
  if (r < 2 || axis !== r - 1 || onGpu(args.backend) || !storedAsFloat32(args.backend, x) || !bigEnough(x)) {
    return stock(args);
  }
  const sizes = backend_util.prepareSplitSize(x as tf.Tensor, a.numOrSizeSplits as number[] | number, axis);
  let offset = 0;
  return sizes.map((w) => {
    const part = sliceLastWebGpu(args.backend as AnyBackend, x, offset, w);
    offset += w;
    return part;
  }) as unknown as tf.TensorInfo;
};

const webgpuMaxPool = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (!storedAsFloat32(args.backend, x) || !isMaxPool2x2(x.shape, args.attrs as Attrs)) return stock(args);
  return maxPool2x2WebGpu(args.backend as AnyBackend, x);
};

const webgpuMaxPoolGrad = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  if (!storedAsFloat32(args.backend, dy, input) || !isMaxPool2x2(input.shape, args.attrs as Attrs)) return stock(args);
  return maxPoolGrad2x2WebGpu(args.backend as AnyBackend, dy, input);
};

const webgpuRelu = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  return vec4Eligible(args.backend, x) ? reluWebGpu(args.backend as AnyBackend, x) : stock(args);
};

const webgpuStep = (stock: tf.KernelFunc): tf.KernelFunc => (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const alpha = (args.attrs as Attrs).alpha as number;
  return vec4Eligible(args.backend, x) ? stepWebGpu(args.backend as AnyBackend, x, alpha) : stock(args);
};

/** Every replacement kernel appaunet ships. */
const REPLACEMENTS: Replacement[] = [
  { kernelName: "Conv2DBackpropFilter", backendName: "cpu", make: makeCpuConv2DBackpropFilter },
  { kernelName: "Conv2DBackpropFilter", backendName: "webgpu", make: webgpuBackpropFilter },
  { kernelName: "Conv2DBackpropInput", backendName: "webgpu", make: webgpuBackpropInput },
  { kernelName: "Conv2D", backendName: "webgpu", make: webgpuConv(false) },
  { kernelName: "FusedConv2D", backendName: "webgpu", make: webgpuConv(true) },
  { kernelName: "Sum", backendName: "webgpu", make: webgpuReduce(false) },
  { kernelName: "Mean", backendName: "webgpu", make: webgpuReduce(true) },
  ...(["Multiply", "Add", "Sub", "RealDiv"] as const).map((op) => ({
    kernelName: op,
    backendName: "webgpu",
    make: webgpuChannelBinary(op),
  })),
  { kernelName: "FusedBatchNorm", backendName: "webgpu", make: webgpuBatchNorm },
  { kernelName: "Tile", backendName: "webgpu", make: webgpuTile },
  { kernelName: "Concat", backendName: "webgpu", make: webgpuConcat },
  { kernelName: "SplitV", backendName: "webgpu", make: webgpuSplitV },
  { kernelName: "MaxPool", backendName: "webgpu", make: webgpuMaxPool },
  { kernelName: "MaxPoolGrad", backendName: "webgpu", make: webgpuMaxPoolGrad },
  { kernelName: "Relu", backendName: "webgpu", make: webgpuRelu },
  { kernelName: "Step", backendName: "webgpu", make: webgpuStep },
];

/**
 * The tfjs kernels that appaunet replaces on a backend (see {@linkcode useFastKernels}); appaunet's own fused kernels
 * (BatchNorm training, Adam, the activation gradients) are not among them.
 *
 * @example
 * ```ts
 * import { replacedKernelNames } from "./registry.ts";
 * import assert from "node:assert/strict";
 * assert.equal(replacedKernelNames("webgpu").includes("Conv2DBackpropFilter"), true);
 * ```
 * @param backendName `"webgpu"` or `"cpu"`
 * @returns the kernel names, in registration order
 */
export function replacedKernelNames(backendName: string): string[] {
  return REPLACEMENTS.filter((r) => r.backendName === backendName).map((r) => r.kernelName);
}

const stockKernels = new Map<string, tf.KernelConfig>();
/** Whether the fast kernels are wanted (the default), and what is registered now. */
let active = true, applied = false, installed = false;

/**
 * Turns appaunet's replacement kernels on (the default, from {@linkcode installFastKernels} on) or off (stock tfjs
 * kernels) for every model and loss, with no other code change. Replacements on `webgpu`: `Conv2D`,
 * `FusedConv2D` (bias, linear/relu), `Conv2DBackpropInput` and `Conv2DBackpropFilter` (WGSL, register-tiled,
 * see `webgpu_conv.ts`; 3×3 stride-1 ones with ≥ 8 channels by Winograd F(4×4, 3×3), see `webgpu_winograd.ts` and
 * {@linkcode useWinograd}); `Sum` and `Mean` over all axes but the last, or over a short last axis (`webgpu_reduce.ts`); `Multiply`, `Add`,
 * `Sub`, `RealDiv` with a per-channel or single-value operand, `FusedBatchNorm` and `Tile` of a `[1, …, 1, C]`
 * tensor (`webgpu_channel.ts`); `Concat` and `SplitV` along the last axis (`webgpu_concat.ts`); `MaxPool` and
 * `MaxPoolGrad` with 2×2 windows, stride 2 (`webgpu_pool.ts`); `Relu` and `Step` with `vec4` buffers
 * (`webgpu_elementwise.ts`); and, while on, tfjs's ReLU and LeakyReLU gradients run in one pass, tfjs-layers' `BatchNormalization` trains with a fused closed-form
 * backward (`webgpu_batchnorm.ts`) and `createAdam`'s optimizer updates in 3 dispatches per variable
 * (`webgpu_adam.ts`). On `cpu`: `Conv2DBackpropFilter` (stock is ≈ 60× slower). Anything a replacement does not
 * handle (NCHW, dilation, other activations, other broadcasts, tensors stored as int32/bool) goes to the stock
 * kernel. On a GPU (see {@linkcode kernelTarget}) the replacements that lose to tfjs's kernels there hand over to
 * them: direct forward convolutions with ≥ 3 input and output channels, direct input gradients, last-axis
 * `Concat`/`SplitV`, column `Sum`/`Mean`, and Winograd below a size (measured on an NVIDIA H100; `policy.ts` lists
 * them).
 *
 * @example
 * ```ts
 * import { fastKernelsEnabled, useFastKernels } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * useFastKernels(false);
 * assert.equal(fastKernelsEnabled(), false);
 * useFastKernels(true);
 * ```
 * @param enabled `true` for the fast kernels, `false` for stock tfjs
 */
export function useFastKernels(enabled: boolean): void {
  if (disabledReason) return;
  active = enabled;
  if (installed) applyReplacements();
}

function applyReplacements(): void {
  if (applied === active) return;
  const enabled = active;
  for (const r of REPLACEMENTS) {
    const key = `${r.backendName}/${r.kernelName}`;
    if (!stockKernels.has(key)) {
      const stock = tf.getKernel(r.kernelName, r.backendName);
      if (!stock) continue;
      stockKernels.set(key, stock);
    }
    const stock = stockKernels.get(key)!;
    tf.unregisterKernel(r.kernelName, r.backendName);
    tf.registerKernel(enabled ? { ...stock, kernelFunc: r.make(stock.kernelFunc) } : stock);
  }
  applied = enabled;
}

/**
 * Installs appaunet's kernels into tfjs (once; later calls do nothing): the replacement kernels (on unless
 * {@linkcode useFastKernels} turned them off), the fused Adam and BatchNormalization kernels, and the patches of
 * tfjs-layers' `BatchNormalization` and tfjs's activation and fused-convolution gradients. `initBackend` calls it;
 * importing appaunet changes nothing in tfjs. Needs tfjs's webgpu backend package loaded (`initBackend` loads it).
 *
 * @example
 * ```ts
 * import { initBackend } from "@appaunet/appaunet";
 * import { fastKernelsInstalled } from "./registry.ts";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" }); // installs them
 * assert.equal(fastKernelsInstalled(), true);
 * ```
 */
export function installFastKernels(): void {
  if (installed) return;
  installed = true;
  // The kernels and patches use tfjs-webgpu's and tfjs-layers' private internals of this exact version.
  if (tf.version.tfjs !== SUPPORTED_TFJS) {
    disabledReason = `appaunet's fast kernels are written for tfjs ${SUPPORTED_TFJS} (its private internals); ` +
      `this is tfjs ${tf.version.tfjs}, so stock tfjs kernels run (correct, slower)`;
    active = false;
    return;
  }
  applyReplacements();
  registerAdamKernels();
  registerBatchNormKernels();
  patchBatchNormalization(() => active);
  registerActivationGradients(() => active);
  patchFusedConvGradient(() => active);
}

/**
 * The tfjs version whose internals the fast kernels and patches are written against; with another, stock kernels run
 * and `backendInfo().warnings` says why.
 *
 * @example
 * ```ts
 * import { SUPPORTED_TFJS } from "@appaunet/appaunet";
 * import * as tf from "@appaunet/appaunet/tf";
 * import assert from "node:assert/strict";
 * assert.equal(tf.version.tfjs, SUPPORTED_TFJS);
 * ```
 */
export const SUPPORTED_TFJS = "4.22.0";

let disabledReason: string | undefined;

/**
 * Why the fast kernels are off although wanted (another tfjs version), for `backendInfo().warnings` and `info`.
 *
 * @returns the reason, or `undefined` when nothing disabled them
 */
export function fastKernelsDisabledReason(): string | undefined {
  return disabledReason;
}

/**
 * Whether {@linkcode installFastKernels} has run.
 *
 * @returns `true` after it ran
 */
export function fastKernelsInstalled(): boolean {
  return installed;
}

/**
 * Whether the fast kernels are active.
 *
 * @example
 * ```ts
 * import { fastKernelsEnabled } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(typeof fastKernelsEnabled(), "boolean");
 * ```
 * @returns `true` unless {@linkcode useFastKernels} last turned them off (they take effect once installed)
 */
export function fastKernelsEnabled(): boolean {
  return active;
}
