/**
 * `deno bench -A bench/kernels_bench.ts`: each convolution kernel (forward, backprop-input, backprop-filter),
 * stock vs fast, on APPAU-Net's shapes at 128² and 256² (batch 8). Skips when there is no WebGPU adapter.
 *
 * @module
 */
import { initBackend, useFastKernels } from "../mod.ts";
import { CONV_OPS, CONV_SHAPES, convOps } from "./shapes.ts";

let webgpu = false;
try {
  webgpu = Boolean(await navigator.gpu?.requestAdapter());
} catch { /* none */ }
if (webgpu) await initBackend({ backend: "webgpu" });

for (const shape of CONV_SHAPES) {
  const ops = webgpu ? convOps(shape) : undefined;
  CONV_OPS.forEach(([op], i) => {
    for (const fast of [false, true]) {
      Deno.bench({
        name: `${op} ${shape[0]} ${fast ? "fast" : "stock"}${ops ? ` (${ops.gflop.toFixed(2)} GFLOP)` : ""}`,
        group: `${op} ${shape[0]}`,
        baseline: !fast,
        ignore: !webgpu,
        n: 5,
        warmup: 1,
        async fn() {
          useFastKernels(fast);
          const r = ops!.run[i]();
          await r.data();
          r.dispose();
        },
      });
    }
  });
}
