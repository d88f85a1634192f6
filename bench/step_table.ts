/**
 * Whole-model medians, stock and fast interleaved: `deno run -A bench/step_table.ts [reps]`. Prints a markdown table
 * (ms per call and images/s) for S forward, S forward+backward and the full mtl step at 64² and 128², batch 8, with
 * three modes run in turn: stock tfjs kernels, fast kernels with direct 3×3 convolutions (`useWinograd(false)`), and
 * fast kernels with Winograd F(4×4, 3×3) (the default).
 *
 * @module
 */
import { initBackend, useFastKernels } from "../mod.ts";
import { useWinograd } from "../lib/kernels/webgpu_winograd.ts";
import { makeWorkloads } from "./nets.ts";

const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? 3);
  await initBackend({ backend: "webgpu" });
  const configs = [{ size: 64, base: 8, depth: 3 }, { size: 128, base: 16, depth: 4 }];
  if (Deno.env.get("APPAUNET_BENCH_256")) configs.push({ size: 256, base: 16, depth: 4 });
  console.log(
    "| workload | stock ms | fast, direct ms | fast ms | stock img/s | fast img/s | speed-up | pairwise speed-ups |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const c of configs) {
    const w = makeWorkloads(c.size, c.base, c.depth, 8);
    for (const what of ["forward", "forwardBackward", "mtlStep"] as const) {
      const t: Record<string, number[]> = { stock: [], direct: [], fast: [] };
      for (let r = -1; r < reps; r++) {
        for (const mode of ["stock", "direct", "fast"]) {
          useFastKernels(mode !== "stock");
          useWinograd(mode === "fast");
          const t0 = performance.now();
          await w[what]();
          if (r >= 0) t[mode].push(performance.now() - t0);
        }
      }
      useWinograd(true);
      const s = median(t.stock), d = median(t.direct), f = median(t.fast);
      const pairs = t.stock.map((v, i) => `${(v / t.fast[i]).toFixed(1)}×`).join(", ");
      console.log(
        `| ${what} ${c.size}² base ${c.base} depth ${c.depth} b8 | ${s.toFixed(0)} | ${d.toFixed(0)} | ${
          f.toFixed(0)
        } | ${(8000 / s).toFixed(1)} | ${(8000 / f).toFixed(1)} | ${(s / f).toFixed(1)}× | ${pairs} |`,
      );
    }
  }
}
