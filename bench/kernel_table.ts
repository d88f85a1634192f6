/**
 * Every kernel call that appaunet replaces, taken from one real workload and replayed alone, stock vs fast:
 * `deno run -A bench/kernel_table.ts [mtlStep|forwardBackward|forward] [size] [base] [depth] [reps]`
 * (default `mtlStep 128 16 4 5`, batch 8).
 *
 * One fast call of the workload records each `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput`,
 * `Conv2DBackpropFilter`, `Sum`, `Mean`, `Multiply`, `Add`, `Sub`, `RealDiv`, `FusedBatchNorm`, `Tile`, `Concat`,
 * `SplitV`, `MaxPool`, `MaxPoolGrad`, `Relu` and `Step` call (kernel name, input shapes and dtypes, attributes).
 * Each distinct call is then run on random inputs of those shapes, stock and fast alternating, `reps` times each,
 * and timed by the adapter itself (`tf.time`'s `kernelMs`: WebGPU timestamp queries around every dispatch of the
 * call, so a replacement that needs several dispatches is charged for all of them). Prints, per kernel name, the
 * workload's total time stock and fast (median per distinct call × its number of calls) and the distinct calls
 * that ran an appaunet shader and are slower by more than 10 % and 2 µs, worst first (the "(ours)" column counts
 * the distinct calls that ran an appaunet shader; the others ran the stock kernel in both modes). appaunet's own fused kernels (BatchNorm training,
 * Adam, the activation gradients) have no single stock kernel to compare with and are left out; the whole-step
 * tables (`step_table.ts`) include them. With `OUT` set, also writes `$OUT/kernel_table_<workload>_<size>.json`,
 * rewritten after every call (largest work first), so a run cut short by a time limit keeps what it measured: on a
 * GPU most of the time goes into compiling each distinct stock kernel once (the H100 did a 64² mtl step's 218 calls in
 * 34 s and ran out of 60 s at 128²).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { backendInfo, initBackend, useFastKernels } from "../mod.ts";
import { replacedKernelNames } from "../lib/kernels/registry.ts";
import { makeWorkloads } from "./nets.ts";

/** The kernel names that have an appaunet replacement on `webgpu`. */
export const REPLACED: ReadonlySet<string> = new Set(replacedKernelNames("webgpu"));

type Spec = { shape: number[]; dtype: tf.DataType } | null;
/** One distinct kernel call: name, inputs (array for Concat, named otherwise), attributes, and how often it ran. */
export interface KernelCall {
  name: string;
  array: boolean;
  inputs: Record<string, Spec>;
  attrs: Record<string, unknown>;
  count: number;
}

/**
 * Runs `fn` once and records the distinct calls of replaced kernels it makes through the engine.
 *
 * @param fn the workload
 * @returns the calls, largest work (input elements × calls) first
 */
export async function recordKernelCalls(fn: () => Promise<void>): Promise<KernelCall[]> {
  // deno-lint-ignore no-explicit-any
  const engine = tf.engine() as any;
  const original = engine.runKernel;
  const calls = new Map<string, KernelCall>();
  engine.runKernel = function (name: string, inputs: Record<string, tf.TensorInfo | null>, attrs = {}) {
    if (REPLACED.has(name)) {
      const spec: Record<string, Spec> = {};
      for (const [k, t] of Object.entries(inputs ?? {})) spec[k] = t ? { shape: [...t.shape], dtype: t.dtype } : null;
      const key = `${name} ${JSON.stringify(spec)} ${JSON.stringify(attrs)}`;
      const c = calls.get(key) ??
        { name, array: Array.isArray(inputs), inputs: spec, attrs: structuredClone(attrs), count: 0 };
      c.count++;
      calls.set(key, c);
    }
    return original.call(this, name, inputs, attrs);
  };
  try {
    await fn();
  } finally {
    engine.runKernel = original;
  }
  // Largest work first (input elements × calls), so that a run cut short has timed what matters most.
  const work = (c: KernelCall) =>
    c.count * Object.values(c.inputs).reduce((s, t) => s + (t ? tf.util.sizeFromShape(t.shape) : 0), 0);
  return [...calls.values()].sort((a, b) => work(b) - work(a));
}

const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

/**
 * Times one recorded call stock and fast, alternating.
 *
 * @param c the call
 * @param reps timed runs per mode (after one untimed run each)
 * @returns median kernel milliseconds, stock and fast
 */
export async function timeCall(
  c: KernelCall,
  reps: number,
): Promise<{ stock: number; fast: number; ours: boolean }> {
  const made: tf.Tensor[] = [];
  const named: Record<string, tf.Tensor | null> = {};
  for (const [k, s] of Object.entries(c.inputs)) {
    if (!s) {
      named[k] = null;
      continue;
    }
    const t = s.dtype === "float32" ? tf.randomUniform(s.shape, -1, 1) : tf.zeros(s.shape, s.dtype);
    made.push(t);
    named[k] = t;
  }
  const inputs = (c.array ? Object.values(named) : named) as unknown as tf.NamedTensorMap;
  const times = { stock: [] as number[], fast: [] as number[] };
  // deno-lint-ignore no-explicit-any
  const backend = tf.backend() as any;
  const run = backend.runWebGPUProgram;
  let ours = false;
  for (let r = -1; r < reps; r++) {
    for (const mode of ["stock", "fast"] as const) {
      useFastKernels(mode === "fast");
      if (r < 0 && mode === "fast") {
        backend.runWebGPUProgram = function (p: { shaderKey: string }, ...rest: unknown[]) {
          ours ||= p.shaderKey.startsWith("appaunet_");
          return run.call(this, p, ...rest);
        };
      }
      const t = await tf.time(() => {
        const out = tf.engine().runKernel(c.name, inputs, c.attrs as tf.NamedAttrMap);
        tf.dispose(out as tf.Tensor | tf.Tensor[]);
      });
      backend.runWebGPUProgram = run;
      if (r >= 0) times[mode].push(t.kernelMs as number);
    }
  }
  useFastKernels(true);
  tf.dispose(made);
  return { stock: median(times.stock), fast: median(times.fast), ours };
}

if (import.meta.main) {
  const what = (Deno.args[0] ?? "mtlStep") as "mtlStep" | "forwardBackward" | "forward";
  const [size, base, depth, reps] = [128, 16, 4, 5].map((d, i) => Number(Deno.args[1 + i] ?? d));
  await initBackend({ backend: "webgpu" });
  const info = backendInfo();
  const w = makeWorkloads(size, base, depth, 8);
  useFastKernels(true);
  await w[what]();
  const calls = await recordKernelCalls(w[what]);
  const rows: (KernelCall & { stock: number; fast: number; ours: boolean })[] = [];
  const out = Deno.env.get("OUT");
  const file = `${out}/kernel_table_${what}_${size}.json`;
  for (const c of calls) {
    rows.push({ ...c, ...(await timeCall(c, reps)) });
    // Written after every call: a run stopped by a time limit keeps what it measured (new shapes compile first).
    if (out) Deno.writeTextFileSync(file, JSON.stringify({ info, done: rows.length, of: calls.length, rows }));
  }
  console.log(
    `${what} ${size}² base ${base} depth ${depth} b8 on ${info.adapter?.description} (kernel target ${info.kernelTarget}); ` +
      `${calls.length} distinct calls, median of ${reps}, alternating`,
  );
  console.log("| kernel | calls | distinct (ours) | stock ms | fast ms | fast / stock | distinct calls slower |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  // Only calls that ran an appaunet shader count as slower (the others ran the stock kernel both times).
  const slower = (r: typeof rows[0]) => r.ours && r.fast > 1.1 * r.stock && r.fast - r.stock > 0.002;
  const names = [...new Set(rows.map((r) => r.name))];
  const total = (rs: typeof rows, k: "stock" | "fast") => rs.reduce((s, r) => s + r[k] * r.count, 0);
  for (
    const n of names.sort((a, b) =>
      total(rows.filter((r) => r.name === b), "stock") - total(rows.filter((r) => r.name === a), "stock")
    )
  ) {
    const rs = rows.filter((r) => r.name === n);
    const [s, f] = [total(rs, "stock"), total(rs, "fast")];
    console.log(
      `| ${n} | ${rs.reduce((a, r) => a + r.count, 0)} | ${rs.length} (${rs.filter((r) => r.ours).length}) | ${
        s.toFixed(3)
      } | ${f.toFixed(3)} | ${(f / s).toFixed(2)} | ${rs.filter(slower).length} |`,
    );
  }
  console.log(
    `| all | | ${rows.length} | ${total(rows, "stock").toFixed(2)} | ${total(rows, "fast").toFixed(2)} | ${
      (total(rows, "fast") / total(rows, "stock")).toFixed(2)
    } | ${rows.filter(slower).length} |`,
  );
  const worst = rows.filter(slower).sort((a, b) => (b.fast - b.stock) * b.count - (a.fast - a.stock) * a.count);
  if (worst.length) console.log("\nslower with fast kernels (ms per call, stock → fast, × calls):");
  for (const r of worst.slice(0, 20)) {
    const shapes = Object.values(r.inputs).map((s) => (s ? `[${s.shape}]` : "-")).join(" ");
    console.log(`  ${r.name} ${shapes}: ${r.stock.toFixed(3)} → ${r.fast.toFixed(3)} ×${r.count}`);
  }
  Deno.exit(0);
}
