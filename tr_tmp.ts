import * as tf from "@tensorflow/tfjs";
import { initBackend, train, evaluate } from "./mod.ts";
await initBackend({ backend: Deno.args[0] as "cpu" });
const t0 = performance.now();
const r = await train({ data: "fixtures/phantoms/manifest.csv", out: "runs/tmp_" + Deno.args[0], size: Number(Deno.args[1]), epochs: Number(Deno.args[2]), batchSize: 8,
  segmentor: { depth: 3, baseFilters: 8 }, discriminator: { depth: 3, baseFilters: 8 }, classLabelFraction: 0.5, progress: "lines",
  onStep: (s) => { if (s % 5 === 0) console.log("step", s, tf.memory().numTensors, ((performance.now()-t0)/1000).toFixed(1)); } });
console.log(r.best, r.stopped, ((performance.now()-t0)/1000).toFixed(1), "s");
const e = await evaluate({ model: "runs/tmp_" + Deno.args[0] + "/checkpoints/best", data: "fixtures/phantoms/manifest.csv" });
console.log(JSON.stringify(e.metrics));
