/**
 * A lazy gradient for tfjs's fused convolution, so that input gradients nobody needs are not computed.
 *
 * tfjs-layers runs every convolution as `tf.fused.conv2d`, whose gradient is a `customGrad`. That gradient computes
 * the input gradient and the filter (and bias) gradients together, when the tape asks for any of them. The tape
 * then drops the ones it does not need. In APPAU-Net training, this throws away:
 *
 * - the image's gradient at S's first convolution (a 1-channel `Conv2DBackpropInput` at full resolution);
 * - the input gradient of D's first convolution in the D step.
 *
 * At 128² that is 3 of a step's `Conv2DBackpropInput` calls and ≈ 65 ms of ≈ 4.9 s of kernel time on lavapipe
 * (bench/README.md).
 *
 * {@linkcode patchFusedConvGradient} wraps the engine's `customGrad`. When the wrapped function ran a `FusedConv2D`
 * kernel first (linear or ReLU activation, NHWC, no dilation: the cases tfjs's own gradient supports), it returns
 * one closure per input, and the tape calls only those it needs. They compute what tfjs's gradient computes: the
 * activation's gradient, then `Conv2DBackpropInput`, `Conv2DBackpropFilter`, and the bias sum.
 *
 * Every other `customGrad`, and every fused convolution while the fast kernels are off, behaves as in tfjs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type CustomGradFunc,
  type CustomGradResult,
  engineInternals,
  type EngineLike,
  type GradMap,
} from "./tfjs_internals.ts";

/** What `customGrad`'s function returns. */
let installed = false;

/**
 * Installs the lazy fused-convolution gradient on tfjs's engine (once; internal, called by the kernel registry).
 * Does nothing when the engine lacks the members it wraps.
 *
 * @example
 * ```ts ignore
 * patchFusedConvGradient(() => fastKernelsEnabled());
 * ```
 * @param enabled read at each `customGrad` call: false gives tfjs's own behaviour
 */
export function patchFusedConvGradient(enabled: () => boolean): void {
  if (installed) return;
  const engine = engineInternals();
  if (
    typeof engine.customGrad !== "function" || typeof engine.runKernel !== "function" ||
    typeof engine.runKernelFunc !== "function"
  ) return;
  installed = true;
  const stockCustomGrad = engine.customGrad;
  engine.customGrad = function (this: EngineLike, f: CustomGradFunc) {
    if (!enabled()) return stockCustomGrad.call(this, f);
    return (...inputs: tf.Tensor[]) => {
      let res: CustomGradResult | undefined;
      let kernel: { name: string; attrs?: Record<string, unknown> } | undefined;
      const forwardFunc = (_backend: unknown, save: (ts: tf.Tensor[]) => void) => {
        // Note the first kernel f runs (only while f runs, so other ops pay nothing).
        const runKernel = engine.runKernel;
        engine.runKernel = function (this: EngineLike, name, kernelInputs, attrs) {
          kernel ??= { name, attrs };
          return runKernel.call(this, name, kernelInputs, attrs);
        };
        try {
          res = f(...inputs, save);
        } finally {
          engine.runKernel = runKernel;
        }
        return res.value;
      };
      const backwardsFunc = (dy: tf.Tensor, saved: tf.Tensor[]): GradMap => {
        const lazy = kernel?.name === "FusedConv2D"
          ? lazyFusedConvGrads(engine, kernel!.attrs ?? {}, dy, saved)
          : undefined;
        if (lazy && Object.keys(lazy).length === inputs.length) return lazy;
        // tfjs's own behaviour: every gradient at once.
        const out = res!.gradFunc(dy, saved);
        const grads = Array.isArray(out) ? out : [out];
        if (grads.length !== inputs.length) {
          throw new Error("customGrad: the gradient function returned a different number of tensors than inputs");
        }
        return Object.fromEntries(grads.map((g, i) => [String(i), () => g]));
      };
      const inputMap = Object.fromEntries(inputs.map((t, i) => [String(i), t]));
      return engine.runKernelFunc({ forwardFunc, backwardsFunc, inputs: inputMap });
    };
  };
}

/**
 * One closure per input of a fused convolution (x, filter, and bias when it has one), computing what tfjs-core's
 * fused conv2d gradient computes; undefined for the cases that gradient does not handle (it then throws its own
 * error).
 */
function lazyFusedConvGrads(
  engine: EngineLike,
  attrs: Record<string, unknown>,
  dy: tf.Tensor,
  saved: tf.Tensor[],
): GradMap | undefined {
  const [filter, x, y, bias] = saved;
  const activation = (attrs.activation as string | undefined) ?? "linear";
  const dilations = attrs.dilations as number | number[] | undefined;
  const oneDilation = dilations === undefined || [dilations].flat().every((d) => d === 1);
  if (!filter || !x || !y || x.rank !== 4 || !oneDilation) return undefined;
  if ((attrs.dataFormat ?? "NHWC") !== "NHWC" || (activation !== "linear" && activation !== "relu")) return undefined;
  const { strides, pad } = attrs;
  // The activation's gradient (recomputed by each closure: each runs in its own tidy).
  const dyAct = () => (activation === "relu" ? tf.mul(dy, tf.step(y)) : dy);
  const grads: GradMap = {
    "0": () =>
      engine.runKernel("Conv2DBackpropInput", { dy: dyAct(), filter }, {
        strides,
        pad,
        dataFormat: "NHWC",
        dimRoundingMode: undefined,
        inputShape: x.shape,
      }) as tf.Tensor,
    "1": () =>
      engine.runKernel("Conv2DBackpropFilter", { x, dy: dyAct() }, {
        strides,
        pad,
        dataFormat: "NHWC",
        dimRoundingMode: undefined,
        filterShape: filter.shape,
      }) as tf.Tensor,
  };
  if (bias) {
    grads["2"] = () => {
      const d = dyAct();
      const axes = reductionAxes(bias.shape, d.shape);
      return tf.reshape(axes.length ? tf.sum(d, axes) : d, bias.shape);
    };
  }
  return grads;
}

/** The axes of `outShape` that broadcasting `inShape` to it repeats (tfjs's `getReductionAxes`). */
function reductionAxes(inShape: number[], outShape: number[]): number[] {
  const axes: number[] = [];
  for (let i = 0; i < outShape.length; i++) {
    const inDim = inShape[inShape.length - 1 - i];
    const outAxis = outShape.length - 1 - i;
    if (inDim === undefined || (inDim === 1 && outShape[outAxis] > 1)) axes.unshift(outAxis);
  }
  return axes;
}
