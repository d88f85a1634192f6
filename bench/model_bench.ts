/**
 * `deno bench -A bench/model_bench.ts`: segmentor forward, forward+backward and the full APPAU-Net mtl train step
 * (S + D) at 64² and 128² (256² with APPAUNET_BENCH_256=1), batch 8, stock vs fast kernels on WebGPU; each loss at
 * 256². Skips (ignored) when there is no WebGPU adapter.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  createDiscriminator,
  createSegmentor,
  discriminatorLoss,
  initBackend,
  kltvLoss,
  lossByName,
  LOSS_NAMES,
  segmentorAdversarialLoss,
  useFastKernels,
} from "../mod.ts";

let webgpu = false;
try {
  webgpu = Boolean(await navigator.gpu?.requestAdapter());
} catch { /* none */ }
if (webgpu) await initBackend({ backend: "webgpu" });

const CONFIGS = [
  { size: 64, base: 8, depth: 3 },
  { size: 128, base: 16, depth: 4 },
  ...(Deno.env.get("APPAUNET_BENCH_256") ? [{ size: 256, base: 16, depth: 4 }] : []),
];
const BATCH = 8;

function setup(size: number, base: number, depth: number) {
  const S = createSegmentor({ size, baseFilters: base, depth, seed: 1 });
  const D = createDiscriminator({ size, baseFilters: base, depth, seed: 2 });
  const optS = tf.train.adam(2e-4, 0.5), optD = tf.train.adam(2e-4, 0.5);
  const x = tf.randomUniform([BATCH, size, size, 1], 0, 1, "float32", 1);
  const y = tf.tidy(() => tf.cast(tf.greater(x, 0.5), "float32"));
  const one = tf.ones([BATCH]) as tf.Tensor1D, labels = tf.zeros([BATCH], "int32") as tf.Tensor1D;
  const sv = S.trainableWeights.map((w) => w.read() as tf.Variable);
  const dv = D.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    async forward() {
      const p = S.apply(x, { training: false }) as tf.Tensor;
      await p.data();
      p.dispose();
    },
    async forwardBackward() {
      const l = optS.minimize(() => kltvLoss(y, S.apply(x, { training: true }) as tf.Tensor), true, sv)!;
      await l.data();
      l.dispose();
    },
    async mtlStep() {
      const sx = tf.tidy(() => S.apply(x, { training: true }) as tf.Tensor);
      const dl = optD.minimize(() => {
        const r = D.apply(tf.concat([x, y], 3), { training: true }) as tf.Tensor2D;
        const f = D.apply(tf.concat([x, sx], 3), { training: true }) as tf.Tensor2D;
        return discriminatorLoss({ logitsLabeledPairs: r, logitsReal: r, logitsFake: f, labels, hasLabel: one, hasMask: one, valid: one }).total;
      }, true, dv)!;
      sx.dispose();
      const sl = optS.minimize(() => {
        const p = S.apply(x, { training: true }) as tf.Tensor;
        const adv = segmentorAdversarialLoss(D.apply(tf.concat([x, p], 3), { training: true }) as tf.Tensor2D, one);
        return tf.add(kltvLoss(y, p), tf.mul(adv, 0.1)) as tf.Scalar;
      }, true, sv)!;
      await sl.data();
      tf.dispose([dl, sl]);
    },
  };
}

for (const c of CONFIGS) {
  const nets = webgpu ? setup(c.size, c.base, c.depth) : undefined;
  for (const [what, n] of [["forward", 5], ["forwardBackward", 3], ["mtlStep", 3]] as const) {
    for (const fast of [false, true]) {
      Deno.bench({
        name: `${what} ${c.size}² base ${c.base} depth ${c.depth} b${BATCH} ${fast ? "fast" : "stock"}`,
        group: `${what} ${c.size}²`,
        baseline: !fast,
        ignore: !webgpu,
        n,
        warmup: 1,
        async fn() {
          useFastKernels(fast);
          await nets![what]();
        },
      });
    }
  }
}

for (const name of LOSS_NAMES) {
  const y = webgpu ? tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([BATCH, 256, 256, 1], 0, 1, "float32", 3), 0.5), "float32")) : undefined;
  const p = webgpu ? tf.randomUniform([BATCH, 256, 256, 1], 0, 1, "float32", 4) : undefined;
  Deno.bench({
    name: `loss ${name} 256² b${BATCH} (value + gradient)`,
    group: "losses 256²",
    ignore: !webgpu,
    n: 10,
    warmup: 2,
    async fn() {
      const g = tf.grad((q: tf.Tensor) => lossByName(name)(y!, q))(p!);
      await g.data();
      g.dispose();
    },
  });
}
