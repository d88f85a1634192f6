/**
 * The worker behind {@linkcode startShaderWarmup} (see shader_warmup.ts): lists the shaders of a run's first step
 * with tfjs's compile-only mode, then compiles them newest first on its own WebGPU device so that the main
 * thread's device finds them in Mesa's disk cache.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { setKernelTarget } from "../kernels/policy.ts";
import { compilingBackend } from "../kernels/tfjs_internals.ts";
import { compileByDispatch } from "../kernels/shader_compile.ts";
import { installFastKernels, useFastKernels } from "../kernels/registry.ts";
import { evalOutputs } from "../infer/evaluation.ts";
import {
  type ShaderCreatedMessage,
  shaderHash,
  type ShaderWarmupMessage,
  type ShaderWarmupReport,
  type ShaderWarmupRequest,
  WARMUP_FAST_MS,
  WARMUP_FAST_RUN,
} from "./shader_warmup_protocol.ts";
import { buildNets, disposeNets, runStep, segmentationLoss } from "./step.ts";

/** The parts of a worker's global scope used here. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<ShaderWarmupRequest | ShaderCreatedMessage>) => void) | null;
  postMessage(m: ShaderWarmupMessage): void;
}

const COMPILE_ONLY = "WEBGPU_ENGINE_COMPILE_ONLY";
const started = performance.now();
const scope = globalThis as unknown as WorkerScope;
/** Hashes of the shaders the main thread has created: it compiles those itself. */
const createdByMain = new Set<string>();

scope.onmessage = async (e) => {
  const msg = e.data;
  if ("type" in msg) {
    createdByMain.add(msg.hash);
    return;
  }
  const report: ShaderWarmupReport = { trainShaders: 0, evalShaders: 0, compiled: 0, skipped: 0, listMs: 0, ms: 0 };
  try {
    const req = msg;
    const listed = await listShaders(req);
    report.trainShaders = listed.train.length;
    report.evalShaders = listed.eval.length;
    report.listMs = listed.ms;
    if (req.listOnly) {
      scope.postMessage({ type: "listed", train: listed.train, eval: listed.eval });
    } else {
      // Training shaders newest first: the main thread compiles from the oldest, and the two meet in the middle.
      for (const codes of [[...listed.train].reverse(), listed.eval]) {
        const r = await compileUntilCached(listed.device, codes);
        report.compiled += r.compiled;
        report.skipped += r.skipped;
      }
    }
  } catch (err) {
    report.error = (err as Error).message ?? String(err);
  }
  report.ms = performance.now() - started;
  scope.postMessage({ type: "done", report });
};

/** Runs one step of the run's options (and one evaluation batch) on zeros in compile-only mode, recording shaders. */
async function listShaders(req: ShaderWarmupRequest): Promise<
  { train: string[]; eval: string[]; ms: number; device: GPUDevice }
> {
  useFastKernels(req.fastKernels);
  installFastKernels();
  setKernelTarget(req.kernelTarget);
  // tfjs's own start, not initBackend: the main thread's initBackend has already set the process environment
  // (Vulkan, vector width) and read the adapter's facts, and compile-only mode needs none of its dispatch caches.
  if (!(await tf.setBackend("webgpu"))) throw new Error("the warm-up worker found no WebGPU adapter");
  await tf.ready();
  const t0 = performance.now();
  const backend = compilingBackend();
  const device = backend.device;
  const seen = new Set<string>();
  const train: string[] = [], evalOnly: string[] = [];
  let into = train;
  const create = device.createShaderModule.bind(device);
  device.createShaderModule = (d: GPUShaderModuleDescriptor) => {
    if (!seen.has(d.code)) {
      seen.add(d.code);
      into.push(d.code);
    }
    return create(d);
  };
  const c = req.config;
  const nets = buildNets(c, req.numClasses);
  const [B, S] = [c.batchSize, c.size];
  const ones = tf.ones([B]) as tf.Tensor1D;
  const batch = {
    images: tf.zeros([B, S, S, 1]) as tf.Tensor4D,
    masks: tf.zeros([B, S, S, 1]) as tf.Tensor4D,
    hasMask: ones,
    labels: tf.zeros([B], "int32") as tf.Tensor1D,
    hasLabel: ones,
    valid: ones,
  };
  tf.env().set(COMPILE_ONLY, true);
  try {
    tf.dispose(Object.values(runStep(c, nets, segmentationLoss(c), batch, 0, 0)));
    into = evalOnly;
    const models = { segmentor: nets.segmentor, discriminator: nets.discriminator, mode: c.mode };
    tf.dispose(Object.values(evalOutputs(models, batch.images, batch.masks)));
    await backend.checkCompileCompletionAsync();
  } finally {
    tf.env().set(COMPILE_ONLY, false);
    device.createShaderModule = create;
    tf.dispose([batch.images, batch.masks, batch.labels, ones]);
    disposeNets(nets);
  }
  return { train, eval: evalOnly, ms: performance.now() - t0, device };
}

/**
 * Dispatches each shader once (lavapipe compiles at the first dispatch and stores the result in Mesa's cache),
 * leaving out those the main thread has already created, and stopping after {@linkcode WARMUP_FAST_RUN} fast ones
 * in a row: those were already in the cache (the cache was warm). Returns how many it dispatched and left out.
 */
async function compileUntilCached(device: GPUDevice, codes: string[]): Promise<{ compiled: number; skipped: number }> {
  let compiled = 0, skipped = 0, fast = 0;
  for (const code of codes) {
    if (createdByMain.has(shaderHash(code))) {
      skipped++;
      continue;
    }
    const t = performance.now();
    await compileByDispatch(device, code);
    compiled++;
    fast = performance.now() - t < WARMUP_FAST_MS ? fast + 1 : 0;
    if (fast >= WARMUP_FAST_RUN) break;
  }
  return { compiled, skipped };
}
