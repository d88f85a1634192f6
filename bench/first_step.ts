/**
 * Time of a run's first mtl training step (compile + run), the trainer's own step on a random batch, with or
 * without the shader warm-up (lib/train/shader_warmup.ts). For a cold start give Mesa an empty cache folder:
 * `MESA_SHADER_CACHE_DIR=$(mktemp -d) deno run -A bench/first_step.ts [size] [base] [depth] [batch] [warmup|plain]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, perImageLossByName, resolveTrainOptions } from "../mod.ts";
import { buildNets, runStep } from "../lib/train/step.ts";
import { startShaderWarmup } from "../lib/train/shader_warmup.ts";

const [size, base, depth, batch] = [128, 16, 4, 8].map((d, i) => Number(Deno.args[i] ?? d));
const withWarmup = (Deno.args[4] ?? "warmup") === "warmup";
await initBackend({ backend: "webgpu" });
const c = resolveTrainOptions({
  data: "unused.csv",
  out: "unused",
  size,
  batchSize: batch,
  segmentor: { depth, baseFilters: base },
  discriminator: { depth, baseFilters: base },
});
const t0 = performance.now();
const warmup = withWarmup ? startShaderWarmup(c, 2, { force: true }) : undefined;
let report: unknown = "not finished";
void warmup?.done.then((r) => (report = r));
const nets = buildNets(c, 2);
const images = tf.randomUniform([batch, size, size, 1], 0, 1, "float32", 1) as tf.Tensor4D;
const masks = tf.tidy(() => tf.cast(tf.greater(images, 0.5), "float32")) as tf.Tensor4D;
const ones = tf.ones([batch]) as tf.Tensor1D;
const b = {
  images,
  masks,
  hasMask: ones,
  labels: tf.zeros([batch], "int32") as tf.Tensor1D,
  hasLabel: ones,
  valid: ones,
};
const step = async () => {
  const values = runStep(c, nets, perImageLossByName(c.loss), b, 0, 0);
  await values.s.data();
  tf.dispose(Object.values(values));
};
await step();
const first = performance.now() - t0;
const t1 = performance.now();
await step();
const second = performance.now() - t1;
warmup?.stop();
console.log(
  `${size}² base ${base} depth ${depth} batch ${batch}, ${withWarmup ? "warm-up" : "plain"}: first step ${
    (first / 1000).toFixed(1)
  } s (incl. building the nets), second ${(second / 1000).toFixed(2)} s${
    warmup ? `; warm-up after the second step: ${JSON.stringify(report)}` : ""
  }`,
);
Deno.exit(0);
