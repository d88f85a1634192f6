/**
 * Per-kernel medians, stock and fast interleaved (the machine is shared, so alternating keeps the comparison
 * fair): `deno run -A bench/conv_micro.ts [reps]`. Prints a markdown table of ms and GFLOP/s for three modes run in
 * turn: stock tfjs, fast with direct convolutions (`useWinograd(false)`), fast with Winograd F(4×4, 3×3) where it
 * applies (3×3 stride 1, ≥ 8 channels; elsewhere it equals the direct column). GFLOP/s count the direct
 * convolution's FLOPs (2·N·OH·OW·KH·KW·CIN·COUT) for every mode, so Winograd's figure is an equivalent rate. Times
 * are the adapter's own (`tf.time`'s `kernelMs`, timestamp queries: every dispatch of the op, no readback).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, useFastKernels } from "../mod.ts";
import { useWinograd } from "../lib/kernels/webgpu_winograd.ts";
import { CONV_OPS, CONV_SHAPES, convOps } from "./shapes.ts";

const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? 5);
  await initBackend({ backend: "webgpu" });
  console.log(
    "| shape | op | stock ms | direct ms | fast ms | stock GFLOP/s | direct GFLOP/s | fast GFLOP/s | speed-up |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const shape of CONV_SHAPES) {
    const { gflop, run, dispose } = convOps(shape);
    const name = shape[0];
    const ops = CONV_OPS.map(([, short], i) => [short, run[i]] as const);
    for (const [op, fn] of ops) {
      const times: Record<string, number[]> = { stock: [], direct: [], fast: [] };
      for (let r = -1; r < reps; r++) {
        for (const mode of ["stock", "direct", "fast"]) {
          useFastKernels(mode !== "stock");
          useWinograd(mode === "fast");
          let y: tf.Tensor | undefined;
          const ms = (await tf.time(() => {
            y = fn();
          })).kernelMs as number;
          y!.dispose();
          if (r >= 0) times[mode].push(ms); // r = −1 compiles all
        }
      }
      useWinograd(true);
      const [s, d, q] = [times.stock, times.direct, times.fast].map(median);
      const rate = (ms: number) => (gflop / ms * 1e3).toFixed(2);
      console.log(
        `| ${name} | ${op} | ${s.toFixed(1)} | ${d.toFixed(1)} | ${q.toFixed(1)} | ${rate(s)} | ${rate(d)} | ${
          rate(q)
        } | ${(s / q).toFixed(1)}× |`,
      );
    }
    dispose();
  }
}
