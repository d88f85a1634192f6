/**
 * `deno bench -A bench/kernels_bench.ts`: each convolution kernel (forward, backprop-input, backprop-filter),
 * stock vs fast (direct convolutions, `useWinograd(false)`) vs fast (Winograd F(4×4, 3×3) where it applies), on
 * APPAU-Net's shapes at 128² and 256² (batch 8). Skips when there is no WebGPU adapter.
 *
 * @module
 */
import { initBackend, useFastKernels, webgpuAvailable } from "../mod.ts";
import { useWinograd } from "../lib/kernels/webgpu_winograd.ts";
import { CONV_OPS, CONV_SHAPES, convOps } from "./shapes.ts";

const webgpu = await webgpuAvailable();
if (webgpu) await initBackend({ backend: "webgpu" });

for (const shape of CONV_SHAPES) {
  const ops = webgpu ? convOps(shape) : undefined;
  CONV_OPS.forEach(([op], i) => {
    for (const mode of ["stock", "direct", "fast"] as const) {
      Deno.bench({
        name: `${op} ${shape[0]} ${mode}${ops ? ` (${ops.gflop.toFixed(2)} GFLOP)` : ""}`,
        group: `${op} ${shape[0]}`,
        baseline: mode === "stock",
        ignore: !webgpu,
        n: 5,
        warmup: 1,
        async fn() {
          useFastKernels(mode !== "stock");
          useWinograd(mode === "fast");
          const r = ops!.run[i]();
          await r.data();
          r.dispose();
          useWinograd(true);
        },
      });
    }
  });
}
