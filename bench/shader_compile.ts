/**
 * Cold compile time of every WGSL shader one mtl train step uses: runs one step while recording each shader module
 * tfjs creates, then compiles and dispatches each distinct text once on a fresh device, timing each. Run it with
 * `MESA_SHADER_CACHE_DISABLE=true` so nothing comes from Mesa's disk cache:
 * `MESA_SHADER_CACHE_DISABLE=true deno run -A bench/shader_compile.ts [size] [base] [depth] [top]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../mod.ts";
import { makeWorkloads } from "./nets.ts";
import { compileByDispatch } from "../lib/kernels/shader_compile.ts";

const [size, base, depth, top] = [64, 8, 3, 30].map((d, i) => Number(Deno.args[i] ?? d));
await initBackend({ backend: "webgpu" });
// deno-lint-ignore no-explicit-any
const backend = tf.backend() as any;
const device: GPUDevice = backend.device;
const modules: { code: string; name: string }[] = [];
let current = "";
const run = backend.runWebGPUProgram;
// deno-lint-ignore no-explicit-any
backend.runWebGPUProgram = function (program: any, ...rest: unknown[]) {
  current = program.shaderKey ? String(program.shaderKey).slice(0, 60) : program.constructor.name;
  return run.call(this, program, ...rest);
};
const create = device.createShaderModule.bind(device);
device.createShaderModule = (d: GPUShaderModuleDescriptor) => {
  modules.push({ code: d.code, name: current });
  return create(d);
};
await makeWorkloads(size, base, depth, 8).mtlStep();
const distinct = new Map<string, string>();
for (const m of modules) if (!distinct.has(m.code)) distinct.set(m.code, m.name);

const adapter = await navigator.gpu.requestAdapter();
const fresh = await adapter!.requestDevice();
const results: { ms: number; name: string }[] = [];
for (const [code, name] of distinct) {
  const t = performance.now();
  await compileByDispatch(fresh, code);
  results.push({ ms: performance.now() - t, name });
}
results.sort((a, b) => b.ms - a.ms);
const total = (r: { ms: number }[]) => r.reduce((s, x) => s + x.ms, 0).toFixed(0);
console.log(
  `mtl step ${size}² base ${base} depth ${depth}: ${modules.length} shader modules, ${distinct.size} distinct texts; ` +
    `compile + first dispatch ${total(results)} ms in all, appaunet's ${
      total(results.filter((r) => r.name.startsWith("appaunet")))
    } ms`,
);
for (const r of results.slice(0, top)) console.log(`${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`);
Deno.exit(0);
