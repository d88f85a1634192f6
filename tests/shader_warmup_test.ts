import assert from "node:assert/strict";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  initBackend,
  loadCheckpointModel,
  perImageLossByName,
  resolveTrainOptions,
  train,
  writePhantomDataset,
} from "../mod.ts";
import type { TrainOptions } from "../mod.ts";
import { evalOutputs } from "../lib/infer/evaluation.ts";
import { buildNets, disposeNets, runStep } from "../lib/train/step.ts";
import { shaderWarmupMarker, shaderWarmupSkipReason, startShaderWarmup } from "../lib/train/shader_warmup.ts";
import { WARMUP_FAST_RUN } from "../lib/train/shader_warmup_protocol.ts";
import { webgpu, webgpuTest } from "./webgpu_helper.ts";
import { tinyRunOptions } from "./run_options.ts";

const root = await Deno.makeTempDir({ prefix: "appaunet-warmup-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const data = await writePhantomDataset(path.join(root, "data"), { count: 16, size: 32, seed: 4 });
const options = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions =>
  tinyRunOptions(data, path.join(root, out), { epochs: 1, seed: 5, overlays: 0, ...extra });

/** Runs a warm-up test with `APPAUNET_SHADER_WARMUP` unset (a user's `=0` would turn off what it tests). */
function warmupTest(name: string, fn: () => Promise<void>): void {
  webgpuTest(name, async () => {
    const saved = Deno.env.get("APPAUNET_SHADER_WARMUP");
    Deno.env.delete("APPAUNET_SHADER_WARMUP");
    try {
      await fn();
    } finally {
      if (saved !== undefined) Deno.env.set("APPAUNET_SHADER_WARMUP", saved);
    }
  });
}

/** Removes a marker file if it exists (tests leave the user's cache folder as it was). */
function tryRemove(file: string | undefined): void {
  try {
    if (file) Deno.removeSync(file);
  } catch {
    // absent
  }
}

Deno.test("the shader warm-up stays off where it cannot help or is turned off, and says why", async () => {
  await initBackend({ backend: "cpu" });
  assert.equal(shaderWarmupSkipReason(), "the backend is cpu, not webgpu");
  const c = resolveTrainOptions(options("cpu"));
  assert.equal(startShaderWarmup(c, 2), undefined);
  if (!webgpu) return;
  await initBackend({ backend: "webgpu" });
  const saved = Deno.env.get("APPAUNET_SHADER_WARMUP");
  try {
    Deno.env.set("APPAUNET_SHADER_WARMUP", "0");
    assert.equal(shaderWarmupSkipReason(), "APPAUNET_SHADER_WARMUP=0");
    assert.equal(startShaderWarmup(c, 2, { force: true }), undefined);
  } finally {
    if (saved === undefined) Deno.env.delete("APPAUNET_SHADER_WARMUP");
    else Deno.env.set("APPAUNET_SHADER_WARMUP", saved);
    await initBackend({ backend: "cpu" });
  }
});

warmupTest("the warm-up's compile-only step lists every shader the real first step and evaluation create", async () => {
  await initBackend({ backend: "webgpu" });
  try {
    assert.equal(shaderWarmupSkipReason(), undefined, "this test needs lavapipe with Mesa's shader cache on");
    // A configuration no other test in this process runs, so that the main thread creates its shaders now.
    const c = resolveTrainOptions(options("list", { batchSize: 3, segmentor: { depth: 2, baseFilters: 6 } }));
    let listed: string[] = [];
    const w = startShaderWarmup(c, 2, { listOnly: true, onListed: (t, e) => (listed = [...t, ...e]) });
    assert.ok(w, "the warm-up did not start");
    const report = await w.done;
    assert.ok(report && !report.error, `the warm-up failed: ${report?.error}`);
    assert.ok(report.trainShaders > 10 && report.evalShaders >= 1, JSON.stringify(report));
    assert.equal(listed.length, report.trainShaders + report.evalShaders);

    // The main thread runs the same step and one evaluation batch, recording the shaders it creates.
    // deno-lint-ignore no-explicit-any
    const device: GPUDevice = (tf.backend() as any).device;
    const created: string[] = [];
    const create = device.createShaderModule.bind(device);
    device.createShaderModule = (d: GPUShaderModuleDescriptor) => {
      created.push(d.code);
      return create(d);
    };
    const before = tf.memory().numTensors;
    try {
      const nets = buildNets(c, 2);
      // Like the dataset's batches: float32 tensors made from arrays (a cast from bool would keep an int32 buffer,
      // and tfjs writes the buffer's type into the shader).
      const pixels = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => (i * 7919 % 101) / 100);
      const images = tf.tensor4d(pixels, [3, 32, 32, 1]);
      const masks = tf.tensor4d(pixels.map((v) => (v > 0.5 ? 1 : 0)), [3, 32, 32, 1]);
      const ones = tf.ones([3]) as tf.Tensor1D, labels = tf.zeros([3], "int32") as tf.Tensor1D;
      const batch = { images, masks, hasMask: ones, labels, hasLabel: ones, valid: ones };
      const values = runStep(c, nets, perImageLossByName(c.loss), batch, 0, 0);
      await values.s.data();
      const out = evalOutputs({ ...nets, mode: c.mode }, images, masks);
      await out.probs.data();
      tf.dispose([...Object.values(values), ...Object.values(out), images, masks, ones, labels]);
      disposeNets(nets);
    } finally {
      device.createShaderModule = create;
    }
    assert.equal(tf.memory().numTensors, before, "the main thread's step leaked tensors");
    assert.ok(created.length >= 5, `the main thread created only ${created.length} shaders (all cached?)`);
    const known = new Set(listed);
    const missing = created.filter((code) => !known.has(code));
    assert.equal(missing.length, 0, `${missing.length} of ${created.length} shaders were not listed`);
  } finally {
    await initBackend({ backend: "cpu" });
  }
});

warmupTest("a finished warm-up leaves a marker, and a marked configuration is not warmed up again", async () => {
  await initBackend({ backend: "webgpu" });
  const c = resolveTrainOptions(options("marker", { batchSize: 2 }));
  const marker = shaderWarmupMarker(c, 2);
  try {
    assert.ok(marker, "no cache folder (HOME, XDG_CACHE_HOME or MESA_SHADER_CACHE_DIR) is known");
    tryRemove(marker);
    const w = startShaderWarmup(c, 2);
    assert.ok(w, "the warm-up did not start although the configuration has no marker");
    const report = await w.done;
    assert.ok(report && !report.error, `the warm-up failed: ${report?.error}`);
    assert.ok(report.compiled >= Math.min(WARMUP_FAST_RUN, report.trainShaders), JSON.stringify(report));
    const saved = JSON.parse(Deno.readTextFileSync(marker));
    assert.equal(saved.trainShaders, report.trainShaders);
    assert.equal(startShaderWarmup(c, 2), undefined, "a marked configuration was warmed up again");
    const other = resolveTrainOptions(options("marker", { batchSize: 2, size: 64 }));
    assert.notEqual(shaderWarmupMarker(other, 2), marker, "another image size must have its own marker");
  } finally {
    tryRemove(marker);
    await initBackend({ backend: "cpu" });
  }
});

warmupTest("training with the warm-up running gives the same weights as without it", async () => {
  await initBackend({ backend: "webgpu" });
  const c = resolveTrainOptions(options("with"));
  const marker = shaderWarmupMarker(c, 2);
  try {
    tryRemove(marker);
    // Hold the first step until the warm-up has finished (its marker appears), so that it ran alongside.
    const waitForWarmup = async (step: number) => {
      if (step !== 1 || !marker) return;
      for (let i = 0; i < 600; i++) {
        try {
          Deno.statSync(marker);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error("the warm-up did not finish within 60 s");
    };
    const withIt = await train({ ...options("with"), progress: "none", onStep: waitForWarmup });
    assert.ok(withIt.shaderWarmup && !withIt.shaderWarmup.error, JSON.stringify(withIt.shaderWarmup));
    const without = await train({ ...options("without"), progress: "none", shaderWarmup: false });
    assert.equal(without.shaderWarmup, undefined);
    for (const net of ["segmentor", "discriminator"]) {
      const [a, b] = await Promise.all(
        [withIt.out, without.out].map(async (dir) => {
          const m = await loadCheckpointModel(path.join(dir, "checkpoints", "last"), net);
          const w = await Promise.all(m.getWeights().map((t) => t.data()));
          m.dispose();
          return w.flatMap((x) => Array.from(x));
        }),
      );
      const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
      assert.ok(diff < 1e-5, `${net} weights differ by ${diff}`);
    }
  } finally {
    tryRemove(marker);
    await initBackend({ backend: "cpu" });
  }
});
