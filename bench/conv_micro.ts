/**
 * Per-kernel medians, stock and fast interleaved (the machine is shared, so alternating keeps the comparison
 * fair): `deno run -A bench/conv_micro.ts [reps]`. Prints a markdown table of ms and GFLOP/s.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, useFastKernels } from "../mod.ts";
import { CONV_SHAPES } from "./shapes.ts";

const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? 5);
  await initBackend({ backend: "webgpu" });
  console.log("| shape | op | stock ms | fast ms | stock GFLOP/s | fast GFLOP/s | speed-up |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, n, h, w, ci, co, k, st] of CONV_SHAPES) {
    const x = tf.randomUniform([n, h, w, ci]) as tf.Tensor4D;
    const f = tf.randomUniform([k, k, ci, co]) as tf.Tensor4D;
    const oh = Math.ceil(h / st), ow = Math.ceil(w / st);
    const dy = tf.randomUniform([n, oh, ow, co]) as tf.Tensor4D;
    const attrs = { strides: [st, st], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined };
    const gflop = (2 * n * oh * ow * k * k * ci * co) / 1e9;
    const ops: [string, () => tf.Tensor][] = [
      ["fwd", () => tf.conv2d(x, f, st, "same")],
      [
        "dx",
        () =>
          tf.engine().runKernel(
            "Conv2DBackpropInput",
            { dy, filter: f },
            { ...attrs, inputShape: [n, h, w, ci] } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor,
      ],
      [
        "dw",
        () =>
          tf.engine().runKernel(
            "Conv2DBackpropFilter",
            { x, dy },
            { ...attrs, filterShape: [k, k, ci, co] } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor,
      ],
    ];
    for (const [op, fn] of ops) {
      const times: Record<string, number[]> = { stock: [], fast: [] };
      for (let r = -1; r < reps; r++) {
        for (const mode of ["stock", "fast"]) {
          useFastKernels(mode === "fast");
          const t0 = performance.now();
          const y = fn();
          await y.data();
          const ms = performance.now() - t0;
          y.dispose();
          if (r >= 0) times[mode].push(ms); // r = −1 compiles both
        }
      }
      const s = median(times.stock), q = median(times.fast);
      console.log(
        `| ${name} | ${op} | ${s.toFixed(1)} | ${q.toFixed(1)} | ${(gflop / s * 1e3).toFixed(2)} | ${
          (gflop / q * 1e3).toFixed(2)
        } | ${(s / q).toFixed(1)}× |`,
      );
    }
    tf.dispose([x, f, dy]);
  }
}
