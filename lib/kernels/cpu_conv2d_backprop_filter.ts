/**
 * A fast `Conv2DBackpropFilter` for the tfjs `cpu` backend. The stock kernel reads every element through
 * `TensorBuffer.get` (≈ 60× slower); this one accumulates outer products over contiguous channel rows.
 * NHWC only; other layouts go to the stock kernel.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { CpuBackendLike } from "./tfjs_internals.ts";

/** Attributes tfjs passes to the kernel. */
interface Attrs {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/**
 * Makes the kernel function, delegating non-NHWC calls to `stock`.
 *
 * @param stock the kernel function it replaces
 * @returns a tfjs kernel function
 */
export function makeCpuConv2DBackpropFilter(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const attrs = args.attrs as unknown as Attrs;
    if (attrs.dataFormat === "NCHW") return stock(args);
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const backend = args.backend as unknown as CpuBackendLike;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    const xv = backend.data.get(x.dataId).values, dyv = backend.data.get(dy.dataId).values;
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    const top = info.padInfo.top, left = info.padInfo.left;
    const dW = new Float32Array(fh * fw * inChannels * outChannels);
    for (let b = 0; b < batchSize; b++) {
      for (let yR = 0; yR < outHeight; yR++) {
        for (let yC = 0; yC < outWidth; yC++) {
          const dyOff = ((b * outHeight + yR) * outWidth + yC) * outChannels;
          for (let wR = 0; wR < fh; wR++) {
            const xR = yR * sh + wR - top;
            if (xR < 0 || xR >= inHeight) continue;
            for (let wC = 0; wC < fw; wC++) {
              const xC = yC * sw + wC - left;
              if (xC < 0 || xC >= inWidth) continue;
              const xOff = ((b * inHeight + xR) * inWidth + xC) * inChannels;
              const wOff = (wR * fw + wC) * inChannels * outChannels;
              for (let d1 = 0; d1 < inChannels; d1++) {
                const xval = xv[xOff + d1];
                if (xval === 0) continue;
                const row = wOff + d1 * outChannels;
                for (let d2 = 0; d2 < outChannels; d2++) dW[row + d2] += xval * dyv[dyOff + d2];
              }
            }
          }
        }
      }
    }
    return backend.makeTensorInfo(info.filterShape, "float32", dW);
  };
}
