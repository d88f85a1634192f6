import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  createAdam,
  createDiscriminator,
  createSegmentor,
  ganTrainStep,
  initBackend,
  kltvLossPerImage,
} from "../mod.ts";
import { webgpuTest } from "./webgpu_helper.ts";
import { type DispatchCache, packUniforms } from "../lib/runtime/webgpu_dispatch_cache.ts";

/**
 * Starts webgpu and returns its dispatch caches, emptied so that earlier tests in this process cannot bring them to
 * their limit mid-test.
 */
async function emptyCaches(): Promise<DispatchCache> {
  await initBackend({ backend: "webgpu" });
  // deno-lint-ignore no-explicit-any
  const cache = (tf.backend() as any).appaunetDispatchCache as DispatchCache;
  assert.ok(cache, "initBackend installs the caches");
  cache.uniforms.clear();
  cache.bindGroups.clear();
  return cache;
}

webgpuTest("webgpu uniform buffers are packed exactly as tfjs packs them", async () => {
  await initBackend({ backend: "webgpu" });
  // deno-lint-ignore no-explicit-any
  const b = tf.backend() as any;
  const original = Object.getPrototypeOf(b).makeUniforms;
  // Scalars, vec2–vec6, the alignment after vec5/vec6, an empty field, NaN and Infinity.
  const sets = [
    [{ type: "float32", data: [NaN] }, { type: "float32", data: [Infinity] }, { type: "int32", data: [8, 64, 64, 1] }],
    [{ type: "int32", data: [2, 3, 4, 5, 6] }, { type: "int32", data: [7] }, { type: "float32", data: [0.5, 2] }],
    [{ type: "int32", data: [1, 2, 3, 4, 5, 6] }, { type: "uint32", data: [9, 8, 7] }, { type: "int32", data: [] }],
  ];
  for (const [i, fields] of sets.entries()) {
    let written: Uint8Array | undefined;
    const write = b.queue.writeBuffer;
    b.queue.writeBuffer = (_buf: GPUBuffer, _off: number, data: ArrayBuffer, dataOff = 0, size?: number) => {
      written = new Uint8Array(data.slice(dataOff, dataOff + (size ?? data.byteLength)));
    };
    try {
      original.call(b, structuredClone(fields));
    } finally {
      b.queue.writeBuffer = write;
    }
    assert.deepEqual(new Uint8Array(packUniforms(structuredClone(fields))), written, `field set ${i}`);
  }
  await initBackend({ backend: "cpu" });
});

webgpuTest(
  "webgpu dispatches reuse uniform buffers and bind groups: a repeated forward pass creates almost none, same results",
  async () => {
    const cache = await emptyCaches();
    const S = createSegmentor({ size: 32, depth: 2, baseFilters: 8, seed: 3 });
    const x = tf.randomUniform([2, 32, 32, 1], 0, 1, "float32", 4);
    const run = async () => {
      const y = S.apply(x, { training: false }) as tf.Tensor;
      const v = await y.data();
      y.dispose();
      return v;
    };
    try {
      const first = await run();
      for (let i = 0; i < 7; i++) await run(); // tfjs's buffer pool settles into a repeating order
      const [uniforms, hits, misses] = [cache.uniforms.size, cache.hits, cache.misses];
      assert.ok(uniforms > 0 && cache.bindGroups.size > 0, "uniform buffers and bind groups were cached");
      const again = await run();
      assert.equal(cache.uniforms.size, uniforms, "no new uniform buffer for the same dispatches");
      const [reused, created] = [cache.hits - hits, cache.misses - misses];
      assert.ok(reused > 2 * created, `bind groups mostly reused: ${reused} found, ${created} created`);
      cache.enabled = false;
      const plain = await run();
      assert.deepEqual(again, plain, "same output without the caches");
      assert.deepEqual(first, again);
    } finally {
      cache.enabled = true;
      tf.dispose(x);
      S.dispose();
      await initBackend({ backend: "cpu" });
    }
  },
);

webgpuTest(
  "webgpu: a repeated S + D training step finds all its bind groups in the cache (in-place Adam, lowest-id buffer pool)",
  async () => {
    const cache = await emptyCaches();
    const nets = {
      segmentor: createSegmentor({ size: 32, depth: 2, baseFilters: 4, seed: 5 }),
      discriminator: createDiscriminator({ size: 32, depth: 2, baseFilters: 4, seed: 6 }),
      optS: createAdam(1e-3, 0.5),
      optD: createAdam(1e-3, 0.5),
    };
    const n = 4;
    const batch = {
      images: tf.randomUniform([n, 32, 32, 1], 0, 1, "float32", 7) as tf.Tensor4D,
      masks: tf.cast(tf.greater(tf.randomUniform([n, 32, 32, 1], 0, 1, "float32", 8), 0.5), "float32") as tf.Tensor4D,
      hasMask: tf.tensor1d([1, 1, 0, 1]),
      labels: tf.tensor1d([0, 1, 0, 1], "int32"),
      hasLabel: tf.tensor1d([1, 0, 1, 1]),
      valid: tf.ones([n]) as tf.Tensor1D,
    };
    const misses: number[] = [], uniforms: number[] = [], tensors: number[] = [];
    try {
      for (let k = 0; k < 12; k++) {
        const m0 = cache.misses;
        const losses = ganTrainStep(nets, batch, { segLoss: kltvLossPerImage });
        await losses.s.data();
        tf.dispose(Object.values(losses));
        misses.push(cache.misses - m0);
        uniforms.push(cache.uniforms.size);
        tensors.push(tf.memory().numTensors);
      }
      assert.ok(misses[0] > 100, `the first step creates its bind groups: ${misses[0]}`);
      assert.deepEqual(misses.slice(-3), [0, 0, 0], `bind groups created per step: ${misses.join(" ")}`);
      assert.equal(uniforms[11], uniforms[8], `no new uniform values once settled: ${uniforms.join(" ")}`);
      assert.equal(tensors[11], tensors[1], "no tensor leak");
    } finally {
      tf.dispose(Object.values(batch));
      nets.segmentor.dispose();
      nets.discriminator.dispose();
      nets.optS.dispose();
      nets.optD.dispose();
      await initBackend({ backend: "cpu" });
    }
  },
);
