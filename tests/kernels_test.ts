import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  createAdam,
  createDiscriminator,
  createRng,
  createSegmentor,
  ganTrainStep,
  initBackend,
  kltvLossPerImage,
  useFastKernels,
} from "../mod.ts";
import { kernelTarget, setKernelTarget } from "../lib/kernels/policy.ts";
import { useWinograd } from "../lib/kernels/webgpu_winograd.ts";
import { webgpuTest } from "./webgpu_helper.ts";
import { noteAdapterKind, winogradWorthIt } from "../lib/kernels/policy.ts";
import { columnSplit } from "../lib/kernels/webgpu_reduce.ts";
import { cachedInputTransforms } from "../lib/kernels/webgpu_winograd.ts";
import { isChannelBroadcast, isChannelTile } from "../lib/kernels/webgpu_channel.ts";
import { isLastAxisConcat } from "../lib/kernels/webgpu_concat.ts";

type Case = { n: number; h: number; w: number; cin: number; cout: number; k: number; s: number; pad: "same" | "valid" };
const CASES: Case[] = [
  { n: 1, h: 7, w: 9, cin: 1, cout: 3, k: 3, s: 1, pad: "same" },
  { n: 2, h: 7, w: 9, cin: 9, cout: 3, k: 3, s: 1, pad: "same" },
  { n: 1, h: 9, w: 11, cin: 12, cout: 10, k: 4, s: 2, pad: "same" },
  { n: 2, h: 8, w: 8, cin: 3, cout: 5, k: 3, s: 2, pad: "same" },
  { n: 2, h: 9, w: 7, cin: 4, cout: 8, k: 3, s: 1, pad: "valid" },
  { n: 1, h: 16, w: 16, cin: 8, cout: 16, k: 4, s: 2, pad: "same" },
  { n: 3, h: 6, w: 6, cin: 5, cout: 4, k: 1, s: 1, pad: "same" },
  { n: 2, h: 5, w: 5, cin: 6, cout: 6, k: 1, s: 2, pad: "valid" },
  { n: 1, h: 12, w: 10, cin: 2, cout: 7, k: 4, s: 2, pad: "valid" },
  { n: 2, h: 4, w: 4, cin: 16, cout: 12, k: 2, s: 2, pad: "same" },
  { n: 2, h: 32, w: 32, cin: 8, cout: 8, k: 3, s: 1, pad: "same" },
];

function rand(n: number, seed: number) {
  const r = createRng(seed);
  return Float32Array.from({ length: n }, () => r.uniform(-1, 1));
}

/** Forward (fused bias + relu and plain), dx and dW for one case on the active backend. */
async function run(c: Case, seed: number) {
  const x = tf.tensor4d(rand(c.n * c.h * c.w * c.cin, seed), [c.n, c.h, c.w, c.cin]);
  const w = tf.tensor4d(rand(c.k * c.k * c.cin * c.cout, seed + 1), [c.k, c.k, c.cin, c.cout]);
  const b = tf.tensor1d(rand(c.cout, seed + 2));
  const y = tf.conv2d(x, w, c.s, c.pad);
  const fused = tf.fused.conv2d({ x, filter: w, strides: c.s, pad: c.pad, bias: b, activation: "relu" });
  const dy = tf.tensor(rand(y.size, seed + 3), y.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
    tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad), dy))
  )([x, w]);
  const out = { y: await y.data(), fused: await fused.data(), dx: await dx.data(), dw: await dw.data() };
  tf.dispose([x, w, b, y, fused, dy, dx, dw]);
  return out;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>) {
  let m = 0, scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / scale;
}

/**
 * Runs `run` on the cpu backend (reference), then on webgpu with the fast kernels; with `leaks`, asserts that the
 * webgpu run leaves the tensor count as it found it. Leaves the webgpu backend active.
 */
async function cpuThenFastWebgpu<T>(run: () => Promise<T>, leaks: boolean): Promise<{ ref: T; got: T }> {
  await initBackend({ backend: "cpu" });
  const ref = await run();
  await initBackend({ backend: "webgpu" });
  useFastKernels(true);
  const before = tf.memory().numTensors;
  const got = await run();
  if (leaks) assert.equal(tf.memory().numTensors, before, `no tensor leaks (${before} → ${tf.memory().numTensors})`);
  return { ref, got };
}

/**
 * Runs `fn` on the active (webgpu) backend and returns the shader keys of the WGSL programs it dispatched (`keys`),
 * and the full keys tfjs made of them (`fullKeys`: tfjs appends the ranks, broadcast pattern and shape equalities of
 * the buffers it was given, and generates the WGSL from the same facts).
 */
async function programKeys<T>(fn: () => Promise<T>): Promise<{ out: T; keys: string[]; fullKeys: string[] }> {
  // deno-lint-ignore no-explicit-any
  const backend = tf.backend() as any;
  const keys: string[] = [], fullKeys: string[] = [];
  const original = backend.runWebGPUProgram;
  backend.runWebGPUProgram = function (p: { shaderKey: string }, ...rest: unknown[]) {
    keys.push(p.shaderKey);
    const out = original.call(this, p, ...rest);
    fullKeys.push(p.shaderKey);
    return out;
  };
  try {
    return { out: await fn(), keys, fullKeys };
  } finally {
    backend.runWebGPUProgram = original;
  }
}

Deno.test("cpu fast Conv2DBackpropFilter equals the stock cpu kernel", async () => {
  await initBackend({ backend: "cpu" });
  for (const [i, c] of CASES.entries()) {
    useFastKernels(false);
    const ref = await run(c, 10 * i);
    useFastKernels(true);
    const fast = await run(c, 10 * i);
    assert.ok(maxRel(fast.dw, ref.dw) < 1e-5, `case ${i} dW`);
  }
});

webgpuTest("webgpu fast conv kernels equal stock webgpu and cpu (1e-4 relative) over a shape sweep", async () => {
  const refs = [];
  await initBackend({ backend: "cpu" });
  useFastKernels(false);
  for (const [i, c] of CASES.entries()) refs.push(await run(c, 10 * i));
  await initBackend({ backend: "webgpu" });
  for (const mode of [false, true]) {
    useFastKernels(mode);
    for (const [i, c] of CASES.entries()) {
      const got = await run(c, 10 * i);
      for (const k of ["y", "fused", "dx", "dw"] as const) {
        const e = maxRel(got[k], refs[i][k]);
        assert.ok(e < 1e-4, `${mode ? "fast" : "stock"} ${k} case ${i} ${JSON.stringify(c)}: rel err ${e}`);
      }
    }
  }
  useFastKernels(true);
  await initBackend({ backend: "cpu" });
});

webgpuTest(
  "webgpu Winograd F(4×4) and F(2×2) 3×3 convs, input and filter gradients equal the cpu backend (1e-4)",
  async () => {
    type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
    const cases: { n: number; h: number; w: number; cin: number; cout: number; pad: Pad }[] = [
      { n: 1, h: 13, w: 7, cin: 8, cout: 12, pad: "same" }, // odd sizes, partial tiles, 12 = 3 vec4 (1-vec4 product)
      { n: 3, h: 9, w: 10, cin: 12, cout: 8, pad: "valid" },
      { n: 2, h: 16, w: 16, cin: 16, cout: 24, pad: "same" },
      { n: 2, h: 11, w: 6, cin: 8, cout: 8, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] }, // explicit, uneven padding
      { n: 1, h: 8, w: 8, cin: 64, cout: 32, pad: "same" }, // long reduction
    ];
    const run = async () => {
      const out: Float32Array[] = [];
      for (const [i, c] of cases.entries()) {
        const x = tf.tensor4d(rand(c.n * c.h * c.w * c.cin, 500 + i), [c.n, c.h, c.w, c.cin]);
        const f = tf.tensor4d(rand(9 * c.cin * c.cout, 600 + i), [3, 3, c.cin, c.cout]);
        const b = tf.tensor1d(rand(c.cout, 700 + i));
        const y = tf.fused.conv2d({ x, filter: f, strides: 1, pad: c.pad, bias: b, activation: "relu" });
        const plain = tf.conv2d(x, f, 1, c.pad);
        const dy = tf.tensor(rand(plain.size, 800 + i), plain.shape);
        const [dx, dw] = tf.grads((a: tf.Tensor, k: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, c.pad), dy))
        )([x, f]);
        for (const t of [y, plain, dx, dw]) out.push(await t.data() as Float32Array);
        tf.dispose([x, f, b, y, plain, dy, dx, dw]);
      }
      return out;
    };
    for (const m of [4, 2] as const) {
      useWinograd(true, m);
      const { ref, got } = await cpuThenFastWebgpu(async () => {
        if (tf.getBackend() !== "webgpu") return await run();
        // Count the Winograd dispatches (products: fused, plain, the forward inside tf.grads, dx; one filter-gradient
        // reduction per case), so that a silent fallback to the direct kernels fails the test.
        const { out, keys } = await programKeys(run);
        const products = keys.filter((k) => k.startsWith("appaunet_wino_m")).length;
        assert.equal(products, 4 * cases.length, `Winograd products run (F(${m}×${m})): ${products}`);
        const filterGrads = keys.filter((k) => k.startsWith("appaunet_wino_z")).length;
        assert.equal(filterGrads, cases.length, `Winograd filter-gradient reductions run: ${filterGrads}`);
        assert.ok(keys.includes(`appaunet_wino${m}_v`), `F(${m}×${m}) input transform ran`);
        return out;
      }, true);
      for (let i = 0; i < ref.length; i++) {
        const e = maxRel(got[i], ref[i]);
        const what = ["fused", "conv", "dx", "dw"][i % 4];
        assert.ok(e < 1e-4, `F(${m}×${m}) ${what} case ${Math.floor(i / 4)}: rel err ${e}`);
      }
    }
    useWinograd(true);
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest(
  "a full S + D train step gives the same losses and weights with fast and stock kernels, leak-free (webgpu)",
  async () => {
    await initBackend({ backend: "webgpu" });
    const run = async (fast: boolean) => {
      useFastKernels(fast);
      const S = createSegmentor({ size: 32, depth: 2, baseFilters: 8, seed: 7 });
      const D = createDiscriminator({ size: 32, depth: 2, baseFilters: 8, seed: 8, dropout: 0 });
      const optS = createAdam(1e-3, 0.5), optD = createAdam(1e-3, 0.5);
      const x = tf.tensor4d(rand(4 * 32 * 32, 99).map((v) => (v + 1) / 2), [4, 32, 32, 1]);
      const y = tf.tidy(() => tf.cast(tf.greater(x, 0.5), "float32")) as tf.Tensor4D;
      const one = tf.ones([4]) as tf.Tensor1D, labels = tf.tensor1d([0, 1, 0, 1], "int32");
      const losses: number[] = [], counts: number[] = [];
      for (let step = 0; step < 3; step++) {
        const l = ganTrainStep(
          { segmentor: S, discriminator: D, optS, optD },
          { images: x, masks: y, hasMask: one, labels, hasLabel: one, valid: one },
          { segLoss: kltvLossPerImage },
        );
        losses.push((await l.d.data())[0], (await l.s.data())[0]);
        tf.dispose(Object.values(l));
        counts.push(tf.memory().numTensors);
      }
      // Leak-free: after the first step (which creates the optimizer slots) the tensor count stays put.
      assert.equal(counts[2], counts[1], `tensor count after steps 1..3: ${counts}`);
      const w = await S.getWeights()[0].data();
      tf.dispose([x, y, one, labels]);
      S.dispose();
      D.dispose();
      return { losses, w };
    };
    const stock = await run(false), fast = await run(true);
    setKernelTarget("gpu"); // the choices made for a GPU (some stock kernels, GPU-sized reductions)
    const gpu = await run(true).finally(() => setKernelTarget(undefined));
    for (const [name, got] of [["fast", fast], ["fast, chosen for a GPU", gpu]] as const) {
      for (let i = 0; i < stock.losses.length; i++) {
        assert.ok(
          Math.abs(stock.losses[i] - got.losses[i]) < 1e-3 * Math.max(1, Math.abs(stock.losses[i])),
          `${name}: loss ${i}: ${stock.losses[i]} vs ${got.losses[i]}`,
        );
      }
      assert.ok(maxRel(got.w, stock.w) < 1e-3, `${name}: first conv weights after 2 steps`);
    }
    useFastKernels(true);
    await initBackend({ backend: "cpu" });
  },
);

Deno.test("kernel target: explicit choice, then what initBackend detected, then the adapter vendor", () => {
  try {
    noteAdapterKind(undefined);
    const backend = (vendor: string) => ({ adapterInfo: { vendor } });
    assert.equal(kernelTarget(backend("4318")), "gpu", "NVIDIA (0x10de) is a GPU");
    assert.equal(kernelTarget(backend("nvidia")), "gpu", "browser vendor names too");
    assert.equal(kernelTarget(backend("65541")), "software", "Mesa lavapipe (0x10005) is software");
    assert.equal(kernelTarget(backend("google")), "software", "SwiftShader is software");
    assert.equal(kernelTarget(backend("")), "software", "no vendor: the CPU-adapter choices");
    assert.equal(kernelTarget(), "software");
    noteAdapterKind(false);
    assert.equal(kernelTarget(backend("65541")), "gpu", "what initBackend detected wins over the vendor");
    setKernelTarget("software");
    assert.equal(kernelTarget(backend("4318")), "software", "an explicit choice wins over everything");
    assert.throws(() => setKernelTarget("tpu" as "gpu"), /setKernelTarget: "tpu"/);
  } finally {
    setKernelTarget(undefined);
    noteAdapterKind(undefined);
  }
});

Deno.test("on a GPU, Winograd only for convolutions large enough to repay its extra dispatches", () => {
  const gpu = { adapterInfo: { vendor: "4318" } }, soft = { adapterInfo: { vendor: "65541" } };
  const flops = (n: number, hw: number, c: number) => 2 * n * hw * hw * 9 * c * c;
  try {
    noteAdapterKind(undefined);
    assert.equal(winogradWorthIt(soft, flops(1, 8, 8), false), true, "always on a CPU adapter");
    assert.equal(winogradWorthIt(gpu, flops(8, 64, 8), true), false, "64² base-8 training: off (measured slower)");
    assert.equal(winogradWorthIt(gpu, flops(8, 128, 16), true), true, "128² base-16 training: on (measured faster)");
    assert.equal(winogradWorthIt(gpu, flops(8, 128, 16), false), false, "128² inference: off (measured slower)");
    assert.equal(winogradWorthIt(gpu, flops(8, 256, 16), false), true, "256² inference: on (measured faster)");
  } finally {
    noteAdapterKind(undefined);
  }
});

Deno.test("column reductions split into ≈ √rows / 2 chunks on a GPU, ≥ 256 lanes on a CPU adapter", () => {
  assert.deepEqual(columnSplit([8, 128, 128, 16]), { R: 131072, C: 16, S: 16, RP: 8192 });
  assert.deepEqual(columnSplit([8, 128, 128, 16], true), { R: 131072, C: 16, S: 181, RP: 725 });
  assert.equal(columnSplit([8, 256, 256, 16], true).S, 362);
  assert.equal(columnSplit([4, 4, 4, 8], true).S, 2, "never chunks under 32 rows");
  for (const shape of [[8, 64, 64, 8], [3, 7, 11, 12], [1000, 3]]) {
    const { R, S, RP } = columnSplit(shape, true);
    assert.ok(S * RP >= R && (S - 1) * RP < R, `${shape}: every row in exactly one chunk`);
  }
});

webgpuTest(
  "kernels chosen for a GPU hand the shapes they lose there to stock tfjs, and still equal the cpu backend",
  async () => {
    const conv = (x: tf.Tensor4D, f: tf.Tensor4D, s: number) => tf.conv2d(x, f, s, "same");
    const run = async () => {
      const out: Float32Array[] = [];
      const push = async (...ts: tf.Tensor[]) => {
        for (const t of ts) out.push(await t.data() as Float32Array);
        tf.dispose(ts);
      };
      // [cin, cout, k, stride]: direct 4×4 s2 (stock on a GPU), 1 input channel (fast), 1 output channel (fast),
      // a small Winograd-eligible 3×3 (stock forward and input gradient on a GPU, where it is too small for Winograd).
      for (const [i, [cin, cout, k, st]] of [[8, 8, 4, 2], [1, 8, 3, 1], [8, 1, 1, 1], [8, 8, 3, 1]].entries()) {
        const x = tf.tensor4d(rand(2 * 12 * 12 * cin, 900 + i), [2, 12, 12, cin]);
        const f = tf.tensor4d(rand(k * k * cin * cout, 910 + i), [k, k, cin, cout]);
        const [dx, dw] = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(conv(a as tf.Tensor4D, w as tf.Tensor4D, st)))(
          [x, f],
        );
        await push(conv(x, f, st), dx, dw, x, f);
      }
      const a = tf.tensor4d(rand(2 * 32 * 32 * 16, 920), [2, 32, 32, 16]);
      const b = tf.tensor4d(rand(2 * 32 * 32 * 16, 921), [2, 32, 32, 16]);
      const two = tf.tensor4d(rand(2 * 40 * 40 * 2, 922), [2, 40, 40, 2]);
      const cat = tf.concat([a, b], 3);
      const [p, q] = tf.split(cat, [8, 24], 3);
      await push(cat, p, q, tf.sum(a, [0, 1, 2]), tf.mean(two, [0, 1, 2]), a, b, two);
      const big = tf.tensor4d(rand(4 * 32 * 32 * 8, 923), [4, 32, 32, 8]);
      await push(tf.sum(big, [0, 1, 2]), tf.mean(big, [0, 1, 2], true), tf.sum(big, -1), big);
      return out;
    };
    try {
      const { ref, got } = await cpuThenFastWebgpu(async () => {
        if (tf.getBackend() !== "webgpu") return await run();
        setKernelTarget("gpu");
        const { out, keys } = await programKeys(run);
        const ours = keys.filter((k) => k.startsWith("appaunet_"));
        const has = (prefix: string) => ours.filter((k) => k.startsWith(prefix)).length;
        assert.equal(has("appaunet_concat") + has("appaunet_slice"), 0, `no last-axis concat/split: ${ours}`);
        assert.equal(has("appaunet_wino"), 0, `no Winograd for convolutions this small: ${ours}`);
        assert.equal(has("appaunet_colsum"), 0, `column Sum/Mean run stock tfjs: ${ours}`);
        assert.ok(has("appaunet_rowsum"), `last-axis sums stay ours: ${ours}`);
        // Direct forward kernels only for the 1-input- and 1-output-channel convs; no direct input gradient; every
        // filter gradient stays ours.
        const count = (keys: string[], prefix: string) => keys.filter((k) => k.startsWith(prefix)).length;
        assert.equal(count(keys, "appaunet_dx_"), 0, `no direct input gradients: ${ours}`);
        assert.ok(count(keys, "appaunet_dw_") >= 3, `direct filter gradients still run: ${ours}`);
        setKernelTarget("software");
        const soft = (await programKeys(run)).keys;
        assert.ok(count(soft, "appaunet_dx_") >= 3, `direct input gradients on a CPU adapter: ${soft}`);
        const [g, c] = [count(keys, "appaunet_conv_"), count(soft, "appaunet_conv_")];
        assert.ok(g > 0 && g < c, `direct forward convs: ${g} for a GPU, ${c} for a CPU adapter`);
        assert.ok(count(soft, "appaunet_concat") > 0, "concat is ours on a CPU adapter");
        assert.ok(count(soft, "appaunet_wino") > 0 && count(soft, "appaunet_colsum") > 0, "Winograd, column sums");
        return out;
      }, true);
      got.forEach((g, i) => assert.ok(maxRel(g, ref[i]) < 1e-4, `output ${i}: rel err ${maxRel(g, ref[i])}`));
    } finally {
      setKernelTarget(undefined);
      await initBackend({ backend: "cpu" });
    }
  },
);

webgpuTest("Winograd input transforms kept for the filter gradient are released with their input", async () => {
  await initBackend({ backend: "webgpu" });
  useFastKernels(true);
  useWinograd(true);
  const other = tf.tensor4d(rand(2 * 8 * 8 * 8, 71), [2, 8, 8, 8]);
  const f = tf.tensor4d(rand(9 * 8 * 8, 72), [3, 3, 8, 8]);
  const plain = async () => {
    const y = tf.conv2d(other, f, 1, "same");
    await y.data();
    y.dispose();
  };
  await plain(); // not recording gradients: nothing is kept
  await plain();
  assert.equal(cachedInputTransforms(), 0, "no transforms kept outside gradient recording");
  const x = tf.tensor4d(rand(2 * 8 * 8 * 8, 73), [2, 8, 8, 8]);
  const [dx, dw] = tf.grads((a: tf.Tensor, k: tf.Tensor) =>
    tf.sum(tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, "same"))
  )([x, f]);
  await dw.data();
  assert.equal(cachedInputTransforms(), 1, "the forward's input transform is kept while x lives");
  tf.dispose([x, dx, dw]);
  await plain();
  await plain();
  assert.equal(cachedInputTransforms(), 0, "released once x is disposed");
  tf.dispose([other, f]);
  await initBackend({ backend: "cpu" });
});

webgpuTest(
  "a Winograd input transform is not reused once the fused Adam has updated its input (a variable) in place",
  async () => {
    useWinograd(true);
    const run = async () => {
      const init = [tf.tensor4d(rand(2 * 8 * 8 * 8, 74), [2, 8, 8, 8]), tf.tensor4d(rand(9 * 8 * 8, 75), [3, 3, 8, 8])];
      const [x, f] = init.map((t) => tf.variable(t));
      tf.dispose(init); // the variables alone hold their data: the fused Adam updates them in place
      const dy = tf.tensor4d(rand(2 * 8 * 8 * 8, 76), [2, 8, 8, 8]);
      const opt = createAdam(0.05);
      const out: Float32Array[] = [];
      for (let k = 0; k < 4; k++) {
        // The loss's forward convolution keeps x's input transform for the filter gradient; the next step's forward
        // must not take it for the updated x.
        const loss = opt.minimize(
          () => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same"), dy)),
          true,
        )!;
        out.push(await loss.data() as Float32Array);
        loss.dispose();
      }
      out.push(await x.data() as Float32Array);
      tf.dispose([x, f, dy]);
      opt.dispose();
      return out;
    };
    const { ref, got } = await cpuThenFastWebgpu(async () => {
      if (tf.getBackend() !== "webgpu") return await run();
      const { out, keys } = await programKeys(run);
      assert.ok(keys.some((k) => k.startsWith("appaunet_wino_m")), "Winograd ran");
      assert.ok(keys.some((k) => k.startsWith("appaunet_adam_update_inplace")), "Adam updated in place");
      return out;
    }, false);
    got.forEach((g, i) => assert.ok(maxRel(g, ref[i]) < 1e-3, `output ${i}: rel err ${maxRel(g, ref[i])}`));
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest(
  "webgpu column and row Sum/Mean equal the cpu backend (all axes but the last / the last, keepDims)",
  async () => {
    const shapes = [[8, 16, 16, 8], [3, 5, 7, 3], [2, 4], [1000, 3], [4, 9, 9, 65], [2, 32, 32, 16], [3, 7, 11, 12]];
    const run = async () => {
      const out: Float32Array[] = [];
      for (const [i, s] of shapes.entries()) {
        const x = tf.tensor(rand(s.reduce((a, b) => a * b, 1), 500 + i), s);
        const axes = s.map((_, k) => k).slice(0, -1);
        for (
          const t of [
            tf.sum(x, axes),
            tf.mean(x, axes, true),
            tf.sum(x, -1),
            tf.mean(x, axes.reverse().map((a) => a - s.length)),
            tf.mean(x, s.length - 1, true),
          ]
        ) {
          out.push((await t.data()) as Float32Array);
          t.dispose();
        }
        x.dispose();
      }
      return out;
    };
    const { ref, got } = await cpuThenFastWebgpu(async () => {
      if (tf.getBackend() !== "webgpu") return await run();
      const { out, keys } = await programKeys(run);
      // Rows of ≥ 256: [8,16,16,8] (vec4 path), [1000,3] and [4,9,9,65] (scalar path), [2,32,32,16]; 2 each.
      const rows = keys.filter((k) => k.startsWith("appaunet_rowsum")).length;
      assert.equal(rows, 8, `row-sum kernels run: ${rows}`);
      return out;
    }, false);
    got.forEach((g, i) => assert.ok(maxRel(g, ref[i]) < 1e-5, `reduction ${i}: ${maxRel(g, ref[i])}`));
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest("webgpu per-channel Multiply/Add/Sub/RealDiv, FusedBatchNorm and Tile equal the cpu backend", async () => {
  // Channel counts: power of two and multiples of 4 (blocked vec4 layout: 4 channels × 4 pixels per invocation;
  // [3, 9, 13, 12] has 351 pixels, so the last block is partial), odd (mod per element).
  const bigShapes = [[2, 16, 16, 16], [2, 12, 12, 48], [3, 9, 13, 12], [4, 17, 13, 7]];
  for (const s of bigShapes) {
    const C = s[s.length - 1];
    for (const small of [[C], [1, 1, 1, C], [], [1]]) {
      assert.ok(isChannelBroadcast(s, small), `${s} with ${small} takes the channel kernel`);
    }
    assert.ok(isChannelTile([1, 1, 1, C], [s[0], s[1], s[2], 1]));
  }
  assert.ok(!isChannelBroadcast([2, 16, 16, 16], [16, 1]), "a non-channel broadcast is left to stock");
  const run = async () => {
    const out: Float32Array[] = [];
    for (const [i, s] of bigShapes.entries()) {
      const C = s[s.length - 1];
      const x = tf.tensor(rand(s.reduce((a, b) => a * b, 1), 700 + i), s);
      const v = tf.tensor1d(rand(C, 710 + i).map((q) => q + 2)); // away from 0: RealDiv
      const v4 = v.reshape([1, 1, 1, C]);
      const sc = tf.scalar(1.5), pos = tf.tidy(() => x.abs().add(1)), vFlat = v4.reshape([C]);
      // A float32 tensor whose stored data is still the bool it was cast from (tfjs casts without a copy).
      const mask = tf.tidy(() => tf.cast(tf.greater(x, 0), "float32"));
      const mean = tf.tensor1d(rand(C, 720 + i)), vari = tf.tensor1d(rand(C, 730 + i).map((q) => q + 1.5));
      const ts = [
        tf.mul(x, v),
        tf.mul(v4, x),
        tf.add(x, v4),
        tf.sub(x, v),
        tf.sub(v, x),
        tf.div(x, v),
        tf.div(v4, pos),
        tf.mul(x, sc),
        tf.sub(sc, x),
        tf.batchNorm(x, mean, vari, v, vFlat, 1e-3),
        tf.batchNorm(x, mean, vari, undefined, undefined, 1e-3),
        tf.batchNorm(x, mean, vari, v, undefined, 0.5),
        tf.tile(v4, [s[0], s[1], s[2], 1]),
        tf.sub(sc, mask),
        tf.mul(mask, v),
      ];
      for (const t of ts) out.push((await t.data()) as Float32Array);
      tf.dispose([x, v, v4, sc, pos, vFlat, mask, mean, vari, ...ts]);
    }
    return out;
  };
  const { ref, got } = await cpuThenFastWebgpu(async () => {
    if (tf.getBackend() !== "webgpu") return await run();
    const { out, keys } = await programKeys(run);
    // On the three C % 4 = 0 shapes, the 11 ops that read a per-channel vector (0–6, 9–12) take the blocked layout
    // and the 3 with a single value (7, 8, and the `add(…, 1)` inside `pos`) the per-element one; with C = 7 all 14
    // are per-element (13 and 14 read a bool-stored tensor: stock).
    const blocked = keys.filter((k) => k.includes("_v4x")).length;
    const perElement = keys.filter((k) => /^appaunet_chan_.*_(pow2|mod4|mod)$/.test(k)).length;
    assert.equal(blocked, 3 * 11, `blocked per-channel kernels run: ${blocked} (${keys.join(" ")})`);
    assert.equal(perElement, 3 * 3 + 14, `per-element channel kernels run: ${perElement} (${keys.join(" ")})`);
    return out;
  }, true);
  got.forEach((g, i) => assert.ok(maxRel(g, ref[i]) < 1e-5, `op ${i}: ${maxRel(g, ref[i])}`));
  await initBackend({ backend: "cpu" });
});

webgpuTest(
  "webgpu vec4 Relu, Step and the one-pass ReLU and LeakyReLU gradients equal stock tfjs bit for bit (NaN too)",
  async () => {
    // Sizes: multiples of 4 above the minimum (vec4 kernels) and not (stock fallback): 3·11·13·10 = 4290.
    const shapes = [[2, 33, 31, 16], [3, 11, 13, 10], [4096]];
    const run = async () => {
      const out: Float32Array[] = [];
      for (const [i, s] of shapes.entries()) {
        const n = s.reduce((a, b) => a * b, 1);
        const vals = rand(n, 1100 + i);
        for (let k = 0; k < n; k += 97) vals[k] = NaN;
        for (let k = 1; k < n; k += 101) vals[k] = 0;
        const x = tf.tensor(vals, s), dy = tf.tensor(rand(n, 1110 + i), s);
        const ts = [
          tf.relu(x),
          tf.step(x),
          tf.step(x, 0.25),
          tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), dy)))(x)),
          tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(v, 0.2), dy)))(x)),
        ];
        for (const t of ts) out.push((await t.data()) as Float32Array);
        tf.dispose([x, dy, ...ts]);
      }
      return out;
    };
    await initBackend({ backend: "webgpu" });
    useFastKernels(false);
    const stock = await run();
    useFastKernels(true);
    const before = tf.memory().numTensors;
    const { out: fast, keys } = await programKeys(run);
    assert.equal(tf.memory().numTensors, before, "no tensor leaks");
    const count = (key: string) => keys.filter((k) => k === key).length;
    // Two of the three shapes take the vec4 kernels; the third (size 4290) stays on stock.
    assert.deepEqual(
      ["appaunet_relu4", "appaunet_step4", "appaunet_relu_grad4", "appaunet_leaky_relu_grad4"].map(count),
      [4, 4, 2, 2],
    );
    fast.forEach((f, i) => {
      assert.equal(f.length, stock[i].length);
      const bad = f.findIndex((v, k) => !Object.is(v, stock[i][k]) && !(v === 0 && stock[i][k] === 0));
      assert.equal(bad, -1, `output ${i}: element ${bad}: ${f[bad]} vs stock ${stock[i][bad]}`);
    });
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest(
  "fused Adam equals tf.train.adam (webgpu, 5 steps), updates in place, its state loads into stock Adam, and it leaks nothing",
  async () => {
    await initBackend({ backend: "webgpu" });
    useFastKernels(true);
    // Sizes that are multiples of 4 (vec4 kernels) and one that is not ([5, 3]: one float per invocation).
    const shapes = [[3, 3, 4, 8], [8], [5000], [5, 3]];
    const fresh = () =>
      shapes.map((s, i) => {
        const init = tf.tensor(rand(s.reduce((a, b) => a * b, 1), 900 + i), s);
        const v = tf.variable(init);
        init.dispose(); // the variable alone holds its data, so the optimizer may update it in place
        return v;
      });
    const run = async (opt: tf.Optimizer, steps: number, start?: tf.Variable[], k0 = 0) => {
      const vs = start ?? fresh();
      const counts: number[] = [], ids: object[][] = [], perStep: tf.TypedArray[][] = [];
      for (let k = k0; k < k0 + steps; k++) {
        // loss = Σ (w − 0.1·i)² · (k + 1): the gradients change every step.
        opt.minimize(() =>
          tf.tidy(() => tf.addN(vs.map((v, i) => tf.sum(tf.square(tf.sub(v, 0.1 * i))).mul(k + 1))) as tf.Scalar)
        );
        counts.push(tf.memory().numTensors);
        ids.push(vs.map((v) => v.dataId));
        // Read back every step: tfjs keeps what it read on the CPU, and an in-place step must not return stale values.
        perStep.push(await Promise.all(vs.map((v) => v.data())));
      }
      return { vs, counts, ids, perStep, values: await Promise.all(vs.map((v) => v.data())) };
    };
    const stock = await run(tf.train.adam(0.05, 0.5, 0.9), 5);
    const fusedOpt = createAdam(0.05, 0.5, 0.9);
    const { out: fused, keys } = await programKeys(() => run(fusedOpt, 5));
    const count = (k: string) => keys.filter((x) => x === k).length;
    // Per step: 3 vec4 variables and 1 scalar one; 2 moment dispatches and 1 update per variable, in place.
    assert.deepEqual(
      [count("appaunet_adam_update_inplace_4"), count("appaunet_adam_update_inplace_1")],
      [15, 5],
      "fused in-place Adam update dispatches (vec4, scalar)",
    );
    assert.deepEqual(
      [
        count("appaunet_adam_moment_inplace_false_4") + count("appaunet_adam_moment_inplace_true_4"),
        count("appaunet_adam_moment_inplace_true_1"),
      ],
      [30, 5],
      "fused in-place Adam moment dispatches",
    );
    assert.equal(keys.filter((k) => k.startsWith("appaunet_adam_") && !k.includes("inplace")).length, 0);
    assert.deepEqual(fused.ids[4], fused.ids[0], "in place: the variables keep their data from step to step");
    assert.notDeepEqual(stock.ids[4], stock.ids[0], "stock Adam gives the variables new data every step");
    fused.values.forEach((f, i) =>
      assert.ok(maxRel(f, stock.values[i]) < 1e-5, `var ${i}: ${maxRel(f, stock.values[i])}`)
    );
    fused.perStep.forEach((vals, k) =>
      vals.forEach((f, i) => {
        const e = maxRel(f, stock.perStep[k][i]);
        assert.ok(e < 1e-5, `step ${k} var ${i}: ${e}`);
      })
    );
    assert.equal(fused.counts[4], fused.counts[1], "tensor count stable across steps");
    assert.equal(fused.counts[1], fused.counts[0], "tensor count stable from the first step");
    // The fused optimizer's state (getWeights) continues in stock Adam like stock's own 7 steps.
    const moved = tf.train.adam(0.05, 0.5, 0.9);
    await moved.setWeights(await fusedOpt.getWeights());
    const cont = await run(moved, 2, fused.vs, 5);
    const ref = await run(tf.train.adam(0.05, 0.5, 0.9), 7);
    cont.values.forEach((f, i) =>
      assert.ok(maxRel(f, ref.values[i]) < 1e-4, `continued var ${i}: ${maxRel(f, ref.values[i])}`)
    );
    tf.dispose([...stock.vs, ...fused.vs, ...ref.vs]);
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest(
  "fused Adam leaves a clone of a variable and a user's GPU buffer alone (out-of-place update), and continues like stock Adam after a switch to stock kernels",
  async () => {
    await initBackend({ backend: "webgpu" });
    useFastKernels(true);
    const shapes = [[4, 6], [7]];
    const fresh = () => shapes.map((s, i) => tf.variable(tf.tensor(rand(s[0] * (s[1] ?? 1), 950 + i), s)));
    const step = (opt: tf.Optimizer, vs: tf.Variable[], k: number) =>
      opt.minimize(() =>
        tf.tidy(() => tf.addN(vs.map((v, i) => tf.sum(tf.square(tf.sub(v, 0.2 * i))).mul(k + 1))) as tf.Scalar)
      );
    const refOpt = tf.train.adam(0.05, 0.5, 0.9), ref = fresh();
    for (let k = 0; k < 6; k++) step(refOpt, ref, k);
    const opt = createAdam(0.05, 0.5, 0.9), vs = fresh();
    step(opt, vs, 0);
    // A clone shares the variable's data: the next fused step must not write into it.
    const snapshot = vs.map((v) => v.clone());
    const before = await Promise.all(snapshot.map((c) => c.data()));
    const { keys } = await programKeys(() => Promise.resolve(step(opt, vs, 1)));
    assert.ok(keys.includes("appaunet_adam_update_4"), `out-of-place update taken: ${keys.join()}`);
    assert.ok(!keys.some((k) => k.includes("inplace")), "no in-place dispatch while a clone shares the data");
    const after = await Promise.all(snapshot.map((c) => c.data()));
    after.forEach((a, i) => assert.deepEqual(a, before[i], `clone ${i} unchanged`));
    tf.dispose(snapshot);
    // A variable over the user's own GPU buffer (zero-copy): the buffer is never written.
    // deno-lint-ignore no-explicit-any
    const device = (tf.backend() as any).device as GPUDevice;
    const userBuffer = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(userBuffer, 0, new Float32Array([1, 2, 3, 4]));
    const wrapped = tf.tensor({ buffer: userBuffer, zeroCopy: true }, [4]);
    const external = tf.variable(wrapped);
    wrapped.dispose();
    const extOpt = createAdam(0.1);
    extOpt.minimize(() => tf.sum(tf.square(external)) as tf.Scalar);
    const copy = tf.tensor({ buffer: userBuffer }, [4]); // tfjs copies a buffer given without zeroCopy
    assert.deepEqual(Array.from(await copy.data()), [1, 2, 3, 4], "the user's buffer is not written");
    assert.ok((await external.data())[0] < 1, "the variable itself was updated");
    tf.dispose([copy, external]);
    extOpt.dispose();
    userBuffer.destroy();
    step(opt, vs, 2);
    // Steps 4–6 on stock kernels: stock Adam's βᵗ state must have been brought up to date.
    useFastKernels(false);
    try {
      for (let k = 3; k < 6; k++) step(opt, vs, k);
    } finally {
      useFastKernels(true);
    }
    const [got, want] = [await Promise.all(vs.map((v) => v.data())), await Promise.all(ref.map((v) => v.data()))];
    got.forEach((g, i) => assert.ok(maxRel(g, want[i]) < 1e-4, `var ${i}: ${maxRel(g, want[i])}`));
    tf.dispose([...vs, ...ref]);
    opt.dispose();
    refOpt.dispose();
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest(
  "BatchNormalization training on webgpu (fused backward) equals tfjs-layers on cpu: output, dx, dγ, dβ, moving stats",
  async () => {
    const shapes = [[2, 8, 8, 16], [3, 5, 7, 12], [2, 9, 5, 5]];
    const run = async () => {
      const out: Float32Array[] = [];
      const names: string[] = [];
      for (const [i, s] of shapes.entries()) {
        const C = s[3], n = s.reduce((a, b) => a * b, 1);
        const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
        layer.build(s);
        const gb = [rand(C, 800 + i).map((q) => q + 1.5), rand(C, 810 + i)];
        const init = [tf.tensor1d(gb[0]), tf.tensor1d(gb[1]), tf.zeros([C]), tf.ones([C])];
        layer.setWeights(init);
        tf.dispose(init);
        const x0 = tf.tensor(rand(n, 820 + i).map((q) => 3 * q + 1), s), x = tf.variable(x0);
        x0.dispose();
        const w = tf.tensor(rand(n, 830 + i), s);
        const prof = await tf.profile(() => {
          const { value, grads } = tf.variableGrads(() =>
            tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar
          );
          const y = layer.apply(x, { training: false }) as tf.Tensor; // uses the updated moving stats
          return [value, y, grads[x.name], ...layer.trainableWeights.map((v) => grads[v.name])];
        });
        const res = prof.result as tf.Tensor[];
        names.push(...prof.kernels.map((k) => k.name));
        for (const t of [...res, ...layer.getWeights()]) out.push((await t.data()) as Float32Array);
        tf.dispose([...res, x, w]);
        for (const v of layer.weights) (v as unknown as { dispose(): void }).dispose();
      }
      return { out, names };
    };
    const { ref, got } = await cpuThenFastWebgpu(run, true);
    assert.ok(got.names.includes("AppaunetBatchNormGradInput"), "the fused backward ran");
    assert.equal(
      got.names.filter((n) => n === "AppaunetBatchNormMovingAverage").length,
      2 * shapes.length,
      "one moving-average dispatch per statistic",
    );
    got.out.forEach((g, i) => assert.ok(maxRel(g, ref.out[i]) < 1e-4, `tensor ${i}: ${maxRel(g, ref.out[i])}`));
    useFastKernels(false);
    const stock = await run();
    assert.ok(!stock.names.includes("AppaunetBatchNormGradInput"), "stock kernels: tfjs's own BatchNormalization");
    useFastKernels(true);
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest(
  "webgpu 2×2 stride-2 MaxPool and its gradient equal stock webgpu (ties too) and the cpu backend",
  async () => {
    const cases: [number[], "same" | "valid"][] = [[[2, 8, 8, 4], "valid"], [[1, 6, 10, 12], "same"], [
      [3, 4, 4, 32],
      "valid",
    ]];
    const run = (ties: boolean) => async () => {
      const out: Float32Array[] = [];
      for (const [i, [shape, pad]] of cases.entries()) {
        const size = shape.reduce((a, b) => a * b, 1);
        // ties: relu of values in [-1, 1] (a quarter of the windows are all zeros) rounded to 1/4 (more equal maxima)
        const v = rand(size, 900 + i).map((a) => (ties ? Math.max(0, Math.round(a * 4) / 4) : a));
        const x = tf.tensor4d(v, shape as [number, number, number, number]);
        const y = tf.maxPool(x, 2, 2, pad);
        const dy = tf.tensor(rand(y.size, 950 + i).map((a) => a + 2), y.shape);
        const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, pad), dy)))(x);
        out.push(await y.data() as Float32Array, await dx.data() as Float32Array);
        tf.dispose([x, y, dy, dx]);
      }
      return out;
    };
    // Without ties: equal to the cpu backend, and our kernels ran (one forward, one gradient, one forward in tf.grad).
    const { ref, got } = await cpuThenFastWebgpu(async () => {
      if (tf.getBackend() !== "webgpu") return await run(false)();
      const { out, keys } = await programKeys(run(false));
      assert.equal(keys.filter((k) => k === "appaunet_maxpool2").length, 2 * cases.length, "fast MaxPool ran");
      assert.equal(keys.filter((k) => k === "appaunet_maxpool2_grad").length, cases.length, "fast MaxPoolGrad ran");
      return out;
    }, true);
    got.forEach((g, i) => assert.ok(maxRel(g, ref[i]) === 0, `no ties, output ${i}: ${maxRel(g, ref[i])}`));
    // With ties: equal to tfjs-webgpu's own kernels (the last maximum in the window takes the gradient).
    useFastKernels(false);
    const stock = await run(true)();
    useFastKernels(true);
    const fast = await run(true)();
    fast.forEach((g, i) => assert.ok(maxRel(g, stock[i]) === 0, `ties, output ${i}: ${maxRel(g, stock[i])}`));
    await initBackend({ backend: "cpu" });
  },
);

webgpuTest("webgpu last-axis Concat and SplitV (and the concat gradient) equal the cpu backend", async () => {
  assert.ok(isLastAxisConcat([[2, 16, 16, 8], [2, 16, 16, 24]], -1));
  assert.ok(!isLastAxisConcat([[2, 16, 16, 8], [2, 16, 16, 8]], 1), "other axes are left to stock");
  const run = async () => {
    const a = tf.tensor(rand(2 * 16 * 16 * 8, 950), [2, 16, 16, 8]);
    const b = tf.tensor(rand(2 * 16 * 16 * 24, 951), [2, 16, 16, 24]);
    const c = tf.tensor(rand(2 * 16 * 16 * 5, 952), [2, 16, 16, 5]);
    const w = tf.tensor(rand(2 * 16 * 16 * 37, 953), [2, 16, 16, 37]);
    const ts = [
      tf.concat([a, b], -1),
      tf.concat([a, b, c], 3),
      tf.concat([b, a, c, a], -1),
      tf.concat([a, a], 1),
      ...tf.split(b, [5, 19], -1),
      ...tf.split(b, 3, 3),
      ...tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, q, r], -1), w)))([
        a,
        b,
        c,
      ]),
    ];
    const out: Float32Array[] = [];
    for (const t of ts) out.push((await t.data()) as Float32Array);
    tf.dispose([a, b, c, w, ...ts]);
    return out;
  };
  const { ref, got } = await cpuThenFastWebgpu(run, true);
  got.forEach((g, i) => assert.ok(g.length === ref[i].length && maxRel(g, ref[i]) === 0, `tensor ${i}`));
  await initBackend({ backend: "cpu" });
});

webgpuTest(
  "fast kernels: one shader per kernel variant, whatever the shapes, ranks and broadcast pattern",
  async () => {
    await initBackend({ backend: "webgpu" });
    useFastKernels(true);
    const { keys, fullKeys } = await programKeys(async () => {
      // cin 1 (a broadcast dim in tfjs's eyes), cin ≠ cout, cin = cout (x's shape equal to y's): same conv variants.
      for (const [i, c] of CASES.entries()) await run(c, 100 + i);
      const big = (shape: number[]) => tf.tensor(rand(shape.reduce((a, b) => a * b), 7), shape);
      for (const shape of [[64, 128], [2, 16, 16, 16], [4, 32, 64]]) {
        const x = big(shape);
        const s = tf.tensor1d(rand(shape[shape.length - 1], 8));
        const outs = [tf.relu(x), tf.mul(x, s)];
        for (const o of outs) await o.data();
        tf.dispose([x, s, ...outs]);
      }
    });
    // One full key per base key means one shader per kernel variant.
    const full = new Map<string, Set<string>>();
    keys.forEach((base, i) => {
      if (base.startsWith("appaunet")) full.set(base, (full.get(base) ?? new Set()).add(fullKeys[i]));
    });
    assert.ok(full.size >= 5, `expected several fast kernels to run, saw ${[...full.keys()].join(", ")}`);
    for (const [base, variants] of full) {
      assert.equal(variants.size, 1, `${base} compiled as ${variants.size} shaders:\n${[...variants].join("\n")}`);
    }
  },
);
