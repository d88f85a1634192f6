import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { BackendError, backendInfo, initBackend } from "../mod.ts";
import { SOFTWARE_SUBMIT_BATCH_SIZE, SOFTWARE_VECTOR_WIDTH } from "../lib/runtime/backend.ts";
import { vulkanDriverManifests } from "../lib/runtime/vulkan_drivers.ts";
import { gatedTest, LINUX, WEBGPU } from "./webgpu_helper.ts";

const linuxVulkan = Deno.build.os === "linux" && vulkanDriverManifests().length > 0;

gatedTest(
  "Linux + Vulkan driver: WebGPU runs on Vulkan only and never loads libEGL (exit-time double free)",
  [WEBGPU, LINUX, { name: "vulkan", ok: linuxVulkan, fix: "no Vulkan driver (mesa-vulkan-drivers)" }],
  async () => {
    const info = await initBackend({ backend: "webgpu" });
    assert.equal(info.backend, "webgpu");
    const chosen = Deno.env.get("DENO_WEBGPU_BACKEND");
    assert.ok(chosen, "DENO_WEBGPU_BACKEND should be set (by the library, or by the user)");
    assert.equal(info.adapter?.denoWebgpuBackend, chosen);
    if (chosen === "vulkan" && info.adapter?.isFallbackAdapter) {
      // libglvnd's libEGL, loaded by wgpu's GL probe, double-frees its thread state when a thread that used it
      // ends during process exit (exit code 134 after all tests passed). Checked on Mesa's software driver only:
      // NVIDIA's Vulkan driver lives in its GL library (libGLX_nvidia) and maps libEGL itself (seen on an H100).
      const maps = await Deno.readTextFile("/proc/self/maps");
      assert.ok(!/libEGL\.so/.test(maps), "libEGL is mapped: the GL backend was probed");
    }
    await initBackend({ backend: "cpu" });
    assert.equal(backendInfo().backend, "cpu");
  },
);

gatedTest(
  "initBackend: dispatches per queue submission: adapter default, explicit option, a value set before, validation",
  [WEBGPU],
  async () => {
    const flag = "WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE";
    const info = await initBackend({ backend: "webgpu" });
    const expected = info.adapter?.isFallbackAdapter ? SOFTWARE_SUBMIT_BATCH_SIZE : 15;
    assert.equal(tf.env().getNumber(flag), expected);
    assert.equal(info.submitBatchSize, expected);
    // An explicit option wins; a later call without it goes back to the adapter's default (our own value is
    // not mistaken for the user's).
    assert.equal((await initBackend({ backend: "webgpu", submitBatchSize: 40 })).submitBatchSize, 40);
    assert.equal((await initBackend({ backend: "webgpu" })).submitBatchSize, expected);
    // A value the user set through tfjs before the call is kept.
    tf.env().set(flag, 7);
    assert.equal((await initBackend({ backend: "webgpu" })).submitBatchSize, 7);
    assert.equal(tf.env().getNumber(flag), 7);
    for (const bad of [0, -3, 2.5, Number.NaN]) {
      await assert.rejects(
        initBackend({ backend: "webgpu", submitBatchSize: bad }),
        (e: Error) => e instanceof BackendError && /submitBatchSize: .* is not a positive integer/.test(e.message),
      );
    }
    assert.equal(tf.env().getNumber(flag), 7, "a rejected option must not change the flag");
    tf.env().set(flag, expected);
    const cpu = await initBackend({ backend: "cpu" });
    assert.equal(cpu.submitBatchSize, undefined);
  },
);

gatedTest(
  "initBackend: the queue is submitted right after a dispatch on a new pipeline, batched otherwise",
  [WEBGPU],
  async () => {
    await initBackend({ backend: "webgpu", submitBatchSize: 1000 });
    // deno-lint-ignore no-explicit-any
    const b = tf.backend() as any;
    assert.equal(b.appaunetSubmitPolicy, true);
    await initBackend({ backend: "webgpu", submitBatchSize: 1000 }); // a second call must not wrap twice
    const x = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 1e3 + Math.random()]);
    await x.data(); // flushes the queue
    const pipelines = () => Object.keys(b.pipelineCache).length;
    // An op this process has not run before creates a pipeline: its dispatch is submitted at once.
    const before = pipelines();
    const y = tf.atan(x);
    assert.equal(pipelines(), before + 1, "atan should have needed a new pipeline");
    assert.equal(b.dispatchCountInPass, 0, "the dispatch on the new pipeline was not submitted");
    // The same op again reuses the pipeline: dispatches now wait for the batch (1000).
    const z = tf.atan(y);
    const w = tf.atan(z);
    assert.equal(pipelines(), before + 1);
    assert.equal(b.dispatchCountInPass, 2);
    assert.ok((await w.data()).every(Number.isFinite));
    assert.equal(b.dispatchCountInPass, 0, "reading back submits the queue");
    tf.dispose([x, y, z, w]);
    await initBackend({ backend: "webgpu" });
    await initBackend({ backend: "cpu" });
  },
);

/** `cli.ts info` in a new process whose environment has `LP_NATIVE_VECTOR_WIDTH` = `width` (or none). */
async function infoWithVectorWidth(width?: string): Promise<string> {
  const env = Deno.env.toObject();
  delete env.LP_NATIVE_VECTOR_WIDTH; // this process's own value (set by initBackend) must not leak in
  if (width) env.LP_NATIVE_VECTOR_WIDTH = width;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "info"],
    cwd: new URL("..", import.meta.url),
    env,
    clearEnv: true,
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  return text;
}

gatedTest(
  "Mesa's software adapter compiles for 128-bit vectors unless LP_NATIVE_VECTOR_WIDTH says otherwise; info shows it",
  [WEBGPU, LINUX],
  async () => {
    const info = await initBackend({ backend: "webgpu" });
    await initBackend({ backend: "cpu" });
    if (!/llvmpipe|lavapipe/i.test(info.adapter?.description ?? "")) {
      // A GPU: Mesa's software rasterizer is not the adapter; the variable is still set, and ignored.
      assert.equal(info.adapter?.softwareVectorBits, undefined);
      return;
    }
    // In this process: the value in effect (ours, or the user's) is what the adapter reports.
    assert.equal(info.adapter?.softwareVectorBits, Number(Deno.env.get("LP_NATIVE_VECTOR_WIDTH")));
    // New processes with and without the variable, through the CLI (absent from the bundled copy the GPU kit runs).
    const cli = new URL("../cli.ts", import.meta.url);
    if (!(await Deno.stat(cli).then(() => true, () => false))) return;
    const ours = await infoWithVectorWidth();
    assert.match(ours, new RegExp(`llvmpipe \\(.*${SOFTWARE_VECTOR_WIDTH} bits\\)`), ours);
    assert.match(ours, new RegExp(`${SOFTWARE_VECTOR_WIDTH}-bit vectors \\(LP_NATIVE_VECTOR_WIDTH\\)`), ours);
    const theirs = await infoWithVectorWidth("256");
    assert.match(theirs, /llvmpipe \(.*256 bits\)/, "the user's value is kept");
  },
);
