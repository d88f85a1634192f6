/**
 * Step time against tfjs's dispatches per queue submission (`WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`), the settings
 * alternating step by step in one process:
 * `deno run -A bench/submit_batch.ts [mtl|fb] [sizes, e.g. 15,256] [repetitions] [size] [base] [depth]`.
 * Prints the median step time and the peak GPU memory tfjs allocated, per setting.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../mod.ts";
import { makeWorkloads } from "./nets.ts";

const workload = Deno.args[0] ?? "mtl";
const sizes = (Deno.args[1] ?? "15,256").split(",").map(Number);
const reps = Number(Deno.args[2] ?? 8);
const [size, base, depth] = [128, 16, 4].map((d, i) => Number(Deno.args[3 + i] ?? d));
await initBackend({ backend: "webgpu" });
const w = makeWorkloads(size, base, depth, 8);
const step = workload === "mtl" ? w.mtlStep : w.forwardBackward;
await step();
await step();
// deno-lint-ignore no-explicit-any
const buffers = (tf.backend() as any).bufferManager;
const times = new Map<number, number[]>(), peak = new Map<number, number>();
for (let r = 0; r < reps; r++) {
  for (const b of sizes) {
    tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", b);
    const t = performance.now();
    await step();
    times.set(b, [...(times.get(b) ?? []), performance.now() - t]);
    peak.set(b, Math.max(peak.get(b) ?? 0, buffers?.numBytesAllocated ?? 0));
  }
}
console.log(`${workload} ${size}² base ${base} depth ${depth} batch 8, ${reps} steps per setting, alternating`);
for (const [b, v] of times) {
  const s = [...v].sort((x, y) => x - y);
  console.log(
    `${String(b).padStart(5)} dispatches/submission: median ${s[Math.floor(s.length / 2)].toFixed(0)} ms ` +
      `(${v.map((x) => x.toFixed(0)).join(" ")}), GPU memory allocated ${(peak.get(b)! / 2 ** 20).toFixed(0)} MiB`,
  );
}
Deno.exit(0);
