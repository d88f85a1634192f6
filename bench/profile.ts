/**
 * Profiles one full APPAU-Net mtl train step (S + D) per kernel: `deno run -A bench/profile.ts [size] [batch] [base] [depth] [stock|fast] [first]` (`first`: stop after the first step).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, useFastKernels } from "../mod.ts";
import { makeWorkloads } from "./nets.ts";

const [size, bs, base, depth] = [64, 8, 8, 3].map((d, i) => Number(Deno.args[i] ?? d));
useFastKernels((Deno.args[4] ?? "fast") === "fast");
await initBackend({ backend: (Deno.env.get("BACKEND") as "cpu") ?? "webgpu" });
const { mtlStep: step } = makeWorkloads(size, base, depth, bs);
if (import.meta.main) {
  let t = performance.now();
  await step();
  console.log(`first step ${(performance.now() - t).toFixed(0)} ms`);
  if (Deno.args[5] === "first") Deno.exit(0);
  t = performance.now();
  await step();
  console.log(`second step ${(performance.now() - t).toFixed(0)} ms`);
  const prof = await tf.profile(step);
  const agg = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    const a = agg.get(k.name) ?? { ms: 0, n: 0 };
    a.ms += await k.kernelTimeMs as number;
    a.n++;
    agg.set(k.name, a);
  }
  const total = [...agg.values()].reduce((s, a) => s + a.ms, 0);
  console.log(`kernel total ${total.toFixed(0)} ms, ${prof.kernels.length} kernels`);
  for (const [k, a] of [...agg.entries()].sort((p, q) => q[1].ms - p[1].ms).slice(0, 25)) {
    console.log(
      `${k.padEnd(28)} ${a.ms.toFixed(1).padStart(8)} ms ${String(a.n).padStart(5)}× ${
        (100 * a.ms / total).toFixed(1)
      }%`,
    );
  }
}
