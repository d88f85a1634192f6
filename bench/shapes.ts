/**
 * APPAU-Net convolution shapes used by the kernel benchmarks: [name, N, H, W, CIN, COUT, K, stride].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** One convolution geometry. */
export type ConvShape = [string, number, number, number, number, number, number, number];

/** Shapes from the 128² (base 16, depth 4) and 256² models, batch 8. */
export const CONV_SHAPES: ConvShape[] = [
  ["S enc0 128² 16→16 3×3", 8, 128, 128, 16, 16, 3, 1],
  ["S enc2 32² 64→64 3×3", 8, 32, 32, 64, 64, 3, 1],
  ["S bottleneck 8² 256→256 3×3", 8, 8, 8, 256, 256, 3, 1],
  ["D conv1 64² 16→32 4×4 s2", 8, 64, 64, 16, 32, 4, 2],
  ["S enc0 256² 16→16 3×3", 8, 256, 256, 16, 16, 3, 1],
  ["S pyramid 128² 1→32 3×3", 8, 128, 128, 1, 32, 3, 1],
  ["D conv0 128² 2→16 4×4 s2", 8, 128, 128, 2, 16, 4, 2],
];

/** The three kernels timed per shape: tfjs kernel name and short label. */
export const CONV_OPS = [["Conv2D", "fwd"], ["Conv2DBackpropInput", "dx"], ["Conv2DBackpropFilter", "dw"]] as const;

/**
 * Random tensors for one shape and a runner per kernel (same order as {@linkcode CONV_OPS}); the backend must be
 * started. FLOPs are 2·N·OH·OW·KH·KW·CIN·COUT for each op.
 *
 * @param shape one geometry
 * @returns GFLOP per op, runners, and a dispose for the tensors
 */
export function convOps(shape: ConvShape): { gflop: number; run: (() => tf.Tensor)[]; dispose(): void } {
  const [, n, h, w, ci, co, k, st] = shape;
  const x = tf.randomUniform([n, h, w, ci]) as tf.Tensor4D;
  const f = tf.randomUniform([k, k, ci, co]) as tf.Tensor4D;
  const oh = Math.ceil(h / st), ow = Math.ceil(w / st);
  const dy = tf.randomUniform([n, oh, ow, co]) as tf.Tensor4D;
  const attrs = { strides: [st, st], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined };
  const kernel = (name: string, inputs: tf.NamedTensorMap, extra: Record<string, unknown>) => () =>
    tf.engine().runKernel(name, inputs, { ...attrs, ...extra } as unknown as tf.NamedAttrMap) as tf.Tensor;
  return {
    gflop: (2 * n * oh * ow * k * k * ci * co) / 1e9,
    run: [
      () => tf.conv2d(x, f, st, "same"),
      kernel("Conv2DBackpropInput", { dy, filter: f }, { inputShape: [n, h, w, ci] }),
      kernel("Conv2DBackpropFilter", { x, dy }, { filterShape: [k, k, ci, co] }),
    ],
    dispose: () => tf.dispose([x, f, dy]),
  };
}
