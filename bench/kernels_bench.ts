/**
 * `deno bench -A bench/kernels_bench.ts`: each convolution kernel (forward, backprop-input, backprop-filter),
 * stock vs fast, on APPAU-Net's shapes at 128² and 256² (batch 8). Skips when there is no WebGPU adapter.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, useFastKernels } from "../mod.ts";
import { CONV_SHAPES } from "./shapes.ts";

let webgpu = false;
try {
  webgpu = Boolean(await navigator.gpu?.requestAdapter());
} catch { /* none */ }
if (webgpu) await initBackend({ backend: "webgpu" });

for (const [name, n, h, w, ci, co, k, st] of CONV_SHAPES) {
  const x = webgpu ? tf.randomUniform([n, h, w, ci]) as tf.Tensor4D : undefined;
  const f = webgpu ? tf.randomUniform([k, k, ci, co]) as tf.Tensor4D : undefined;
  const oh = Math.ceil(h / st), ow = Math.ceil(w / st);
  const dy = webgpu ? tf.randomUniform([n, oh, ow, co]) as tf.Tensor4D : undefined;
  const attrs = { strides: [st, st], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined };
  const ops: [string, () => tf.Tensor][] = [
    ["Conv2D", () => tf.conv2d(x!, f!, st, "same")],
    [
      "Conv2DBackpropInput",
      () =>
        tf.engine().runKernel(
          "Conv2DBackpropInput",
          { dy: dy!, filter: f! },
          { ...attrs, inputShape: [n, h, w, ci] } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
    ],
    [
      "Conv2DBackpropFilter",
      () =>
        tf.engine().runKernel(
          "Conv2DBackpropFilter",
          { x: x!, dy: dy! },
          { ...attrs, filterShape: [k, k, ci, co] } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
    ],
  ];
  const gflop = (2 * n * oh * ow * k * k * ci * co) / 1e9;
  for (const [op, fn] of ops) {
    for (const fast of [false, true]) {
      Deno.bench({
        name: `${op} ${name} ${fast ? "fast" : "stock"} (${gflop.toFixed(2)} GFLOP)`,
        group: `${op} ${name}`,
        baseline: !fast,
        ignore: !webgpu,
        n: 5,
        warmup: 1,
        async fn() {
          useFastKernels(fast);
          const r = fn();
          await r.data();
          r.dispose();
        },
      });
    }
  }
}
