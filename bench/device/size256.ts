/**
 * 256² (base 16, depth 4, batch 8) S forward + backward and full mtl step, fast (median of 5 after 2 warm-ups) and
 * stock (1 after 1 warm-up, since stock takes ≈ 20 s per call even on an H100): `deno run -A bench/device/size256.ts`.
 *
 * @module
 */
import { backendInfo, initBackend, useFastKernels } from "../../mod.ts";
import { makeWorkloads } from "../nets.ts";

await initBackend({ backend: "webgpu" });
console.log(backendInfo().adapter?.description, backendInfo().kernelTarget);
const w = makeWorkloads(256, 16, 4, 8);
const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const what of ["forwardBackward", "mtlStep"] as const) {
  for (const fast of [true, false]) {
    useFastKernels(fast);
    const ts: number[] = [];
    for (let r = 0; r < (fast ? 7 : 2); r++) {
      const t = performance.now();
      await w[what]();
      ts.push(performance.now() - t);
    }
    const m = median(ts.slice(fast ? 2 : 1));
    console.log(
      `${what} 256² b8 ${fast ? "fast" : "stock"}: ${m.toFixed(0)} ms (${ts.map((x) => x.toFixed(0)).join(" ")}), ${
        (8000 / m).toFixed(1)
      } img/s`,
    );
  }
}
useFastKernels(true);
Deno.exit(0);
