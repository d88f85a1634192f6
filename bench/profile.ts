/**
 * Profiles one full APPAU-Net mtl train step (S + D) per kernel: `deno run -A bench/profile.ts [size] [batch] [base] [depth] [stock|fast]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createDiscriminator, createSegmentor, discriminatorLoss, initBackend, kltvLoss, segmentorAdversarialLoss, useFastKernels } from "../mod.ts";

const [size, bs, base, depth] = [64, 8, 8, 3].map((d, i) => Number(Deno.args[i] ?? d));
useFastKernels((Deno.args[4] ?? "fast") === "fast");
await initBackend({ backend: (Deno.env.get("BACKEND") as "cpu") ?? "webgpu" });
const S = createSegmentor({ size, baseFilters: base, depth, seed: 1 });
const D = createDiscriminator({ size, baseFilters: base, depth, seed: 2 });
const optS = tf.train.adam(2e-4, 0.5), optD = tf.train.adam(2e-4, 0.5);
const x = tf.randomUniform([bs, size, size, 1], 0, 1, "float32", 1);
const y = tf.tidy(() => tf.cast(tf.greater(x, 0.5), "float32"));
const one = tf.ones([bs]) as tf.Tensor1D, labels = tf.zeros([bs], "int32") as tf.Tensor1D;
const sv = S.trainableWeights.map((w) => w.read() as tf.Variable), dv = D.trainableWeights.map((w) => w.read() as tf.Variable);
export async function step() {
  const sx = tf.tidy(() => S.apply(x, { training: true }) as tf.Tensor);
  const dl = optD.minimize(() => {
    const r = D.apply(tf.concat([x, y], 3), { training: true }) as tf.Tensor2D;
    const f = D.apply(tf.concat([x, sx], 3), { training: true }) as tf.Tensor2D;
    return discriminatorLoss({ logitsLabeledPairs: r, logitsReal: r, logitsFake: f, labels, hasLabel: one, hasMask: one, valid: one }).total;
  }, true, dv)!;
  sx.dispose();
  const sl = optS.minimize(() => {
    const p = S.apply(x, { training: true }) as tf.Tensor;
    return tf.add(kltvLoss(y, p), tf.mul(segmentorAdversarialLoss(D.apply(tf.concat([x, p], 3), { training: true }) as tf.Tensor2D, one), 0.1)) as tf.Scalar;
  }, true, sv)!;
  await sl.data();
  tf.dispose([dl, sl]);
}
if (import.meta.main) {
  let t = performance.now();
  await step();
  console.log(`first step ${(performance.now() - t).toFixed(0)} ms`);
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
    console.log(`${k.padEnd(28)} ${a.ms.toFixed(1).padStart(8)} ms ${String(a.n).padStart(5)}× ${(100 * a.ms / total).toFixed(1)}%`);
  }
}
