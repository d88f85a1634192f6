/**
 * Per-kernel medians, stock and fast interleaved (the machine is shared, so alternating keeps the comparison
 * fair): `deno run -A bench/conv_micro.ts [reps]`. Prints a markdown table of ms and GFLOP/s.
 *
 * @module
 */
import { initBackend, useFastKernels } from "../mod.ts";
import { CONV_OPS, CONV_SHAPES, convOps } from "./shapes.ts";

const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? 5);
  await initBackend({ backend: "webgpu" });
  console.log("| shape | op | stock ms | fast ms | stock GFLOP/s | fast GFLOP/s | speed-up |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const shape of CONV_SHAPES) {
    const { gflop, run, dispose } = convOps(shape);
    const name = shape[0];
    const ops = CONV_OPS.map(([, short], i) => [short, run[i]] as const);
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
    dispose();
  }
}
