/**
 * `deno bench -A bench/model_bench.ts`: segmentor forward, forward+backward and the full APPAU-Net mtl train step
 * (S + D) at 64² and 128² (256² with APPAUNET_BENCH_256=1), batch 8, stock vs fast kernels on WebGPU; each loss at
 * 256². Skips (ignored) when there is no WebGPU adapter.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, LOSS_NAMES, lossByName, useFastKernels, webgpuAvailable } from "../mod.ts";
import { makeWorkloads } from "./nets.ts";

const webgpu = await webgpuAvailable();
if (webgpu) await initBackend({ backend: "webgpu" });

const CONFIGS = [
  { size: 64, base: 8, depth: 3 },
  { size: 128, base: 16, depth: 4 },
  ...(Deno.env.get("APPAUNET_BENCH_256") ? [{ size: 256, base: 16, depth: 4 }] : []),
];
const BATCH = 8;

for (const c of CONFIGS) {
  const nets = webgpu ? makeWorkloads(c.size, c.base, c.depth, BATCH) : undefined;
  for (const [what, n] of [["forward", 5], ["forwardBackward", 3], ["mtlStep", 3]] as const) {
    for (const fast of [false, true]) {
      Deno.bench({
        name: `${what} ${c.size}² base ${c.base} depth ${c.depth} b${BATCH} ${fast ? "fast" : "stock"}`,
        group: `${what} ${c.size}²`,
        baseline: !fast,
        ignore: !webgpu,
        n,
        warmup: 1,
        async fn() {
          useFastKernels(fast);
          await nets![what]();
        },
      });
    }
  }
}

for (const name of LOSS_NAMES) {
  const y = webgpu
    ? tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([BATCH, 256, 256, 1], 0, 1, "float32", 3), 0.5), "float32"))
    : undefined;
  const p = webgpu ? tf.randomUniform([BATCH, 256, 256, 1], 0, 1, "float32", 4) : undefined;
  Deno.bench({
    name: `loss ${name} 256² b${BATCH} (value + gradient)`,
    group: "losses 256²",
    ignore: !webgpu,
    n: 10,
    warmup: 2,
    async fn() {
      const g = tf.grad((q: tf.Tensor) => lossByName(name)(y!, q))(p!);
      await g.data();
      g.dispose();
    },
  });
}
