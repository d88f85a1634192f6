/**
 * Shader warm-up: a second thread compiles the first training step's shaders while the main thread runs it.
 *
 * On Mesa's software WebGPU adapter (lavapipe) every shader is compiled by LLVM the first time it is dispatched,
 * on the one thread that runs the device's queue, so a cold first step is mostly compilation (≈ 137 shaders and
 * ≈ 22 s for a 128² mtl step; see bench/README.md). Mesa keeps compiled shaders in an on-disk cache, and a second
 * WebGPU device in a Worker can fill that cache in parallel:
 *
 * 1. The worker builds the same networks and runs one step of the same options on zeros with tfjs's compile-only
 *    mode (`WEBGPU_ENGINE_COMPILE_ONLY`), which creates every pipeline without dispatching anything. That lists
 *    the shaders in the order the real step will need them (≈ 2 s of the worker's time at 128²), then the
 *    evaluation's inference shaders.
 * 2. It compiles them newest first (a one-workgroup dispatch each, on its own device), while the main thread
 *    compiles from the start: the main device finds in Mesa's cache whatever the worker did first. The main thread
 *    posts a hash of each shader it creates, and the worker leaves those out, so the two meet in the middle. Then
 *    the worker compiles the evaluation's shaders and stops. Five fast dispatches in a row (cache hits) mean the
 *    cache was already warm, and it stops early.
 * 3. When it finishes, it leaves a marker file next to Mesa's cache, keyed by the versions, the adapter, the
 *    kernel choice and the options that decide the shapes, so later runs of the same configuration skip the
 *    warm-up (a warm cache gains nothing from it). A stale marker (Mesa's cache deleted) only loses the speed-up.
 *
 * The warm-up never touches the main thread's models, tensors or results; if anything in it fails it reports
 * the error and the run goes on as without it. It runs only on lavapipe (on a GPU, drivers compile quickly) and
 * only while Mesa's disk cache is on (`MESA_SHADER_CACHE_DISABLE` unset); `APPAUNET_SHADER_WARMUP=0` turns it off
 * everywhere (the trainer's `shaderWarmup: false` and the CLI's `--no-shader-warmup` for one run).
 *
 * @module
 */
import { backendDevice } from "../kernels/tfjs_internals.ts";
import * as path from "node:path";
import { backendInfo } from "../runtime/backend.ts";
import { kernelTarget } from "../kernels/policy.ts";
import { fastKernelsEnabled } from "../kernels/registry.ts";
import { kernelEnv } from "../kernels/webgpu_program.ts";
import { APPAUNET_VERSION, type ResolvedTrainOptions } from "./config.ts";
import {
  type ShaderCreatedMessage,
  shaderHash,
  type ShaderWarmupMessage,
  type ShaderWarmupReport,
  type ShaderWarmupRequest,
} from "./shader_warmup_protocol.ts";

export type { ShaderWarmupReport };

/** A running warm-up. */
export interface ShaderWarmup {
  /** Resolves when the worker has finished, with what it did (undefined when stopped before finishing). */
  readonly done: Promise<ShaderWarmupReport | undefined>;
  /** Ends the worker now (idempotent). */
  stop(): void;
}

/**
 * Why a warm-up would not run now (`undefined` when it would): another backend than webgpu, an adapter other than
 * lavapipe, `APPAUNET_SHADER_WARMUP=0` in the environment, or Mesa's disk cache switched off.
 *
 * @example
 * ```ts
 * import { initBackend } from "../runtime/backend.ts";
 * import { shaderWarmupSkipReason } from "./shader_warmup.ts";
 * await initBackend({ backend: "cpu" });
 * console.log(shaderWarmupSkipReason()); // "the backend is cpu, not webgpu"
 * ```
 * @returns the reason, or undefined
 */
export function shaderWarmupSkipReason(): string | undefined {
  const info = backendInfo();
  if (info.backend !== "webgpu") return `the backend is ${info.backend}, not webgpu`;
  if (!/llvmpipe|lavapipe/i.test(info.adapter?.description ?? "")) return "the adapter is not Mesa's lavapipe";
  if (kernelEnv("APPAUNET_SHADER_WARMUP") === "0") return "APPAUNET_SHADER_WARMUP=0";
  const off = kernelEnv("MESA_SHADER_CACHE_DISABLE");
  if (off !== undefined && !/^(0|n|no|f|false)$/i.test(off.trim())) {
    return "Mesa's shader cache is off (MESA_SHADER_CACHE_DISABLE)";
  }
  return undefined;
}

/**
 * The marker file that says this configuration's shaders are in Mesa's cache, or undefined when the cache folder
 * cannot be known (no permission to read the environment).
 *
 * @param config the run's resolved options
 * @param numClasses real disease classes
 * @returns the marker's path
 */
export function shaderWarmupMarker(config: ResolvedTrainOptions, numClasses: number): string | undefined {
  const home = kernelEnv("HOME");
  const base = kernelEnv("MESA_SHADER_CACHE_DIR") ?? kernelEnv("XDG_CACHE_HOME") ??
    (home ? path.join(home, ".cache") : undefined);
  if (!base) return undefined;
  const info = backendInfo();
  const signature = JSON.stringify({
    versions: { appaunet: APPAUNET_VERSION, ...info.versions },
    adapter: info.adapter?.description,
    mesa: info.adapter?.mesaVersion,
    fast: fastKernelsEnabled(),
    target: kernelTarget(),
    knobs: envKnobs(),
    numClasses,
    mode: config.mode,
    size: config.size,
    batchSize: config.batchSize,
    segmentor: config.segmentor,
    discriminator: config.discriminator,
    loss: config.loss,
    noise: config.realMaskNoise > 0,
  });
  return path.join(base, "appaunet_shader_warmup", `${shaderHash(signature)}.json`);
}

/**
 * Starts a warm-up for a run's first step, or returns undefined when it would not help (see
 * {@linkcode shaderWarmupSkipReason}) or this configuration was warmed before (its marker exists).
 *
 * @example
 * ```ts ignore
 * const warmup = startShaderWarmup(config, 2);
 * try {
 *   // ... the first training step ...
 * } finally {
 *   warmup?.stop();
 * }
 * ```
 * @param config the run's resolved options
 * @param numClasses real disease classes
 * @param opts `listOnly`: only list the shaders (tests); `force`: ignore the marker
 * @returns the running warm-up, or undefined
 */
export function startShaderWarmup(
  config: ResolvedTrainOptions,
  numClasses: number,
  opts: { listOnly?: boolean; force?: boolean; onListed?: (train: string[], evalOnly: string[]) => void } = {},
): ShaderWarmup | undefined {
  if (shaderWarmupSkipReason()) return undefined;
  const marker = shaderWarmupMarker(config, numClasses);
  if (!opts.force && marker && exists(marker)) return undefined;
  let worker: Worker | undefined;
  try {
    worker = new Worker(new URL("./shader_warmup_worker.ts", import.meta.url).href, { type: "module" });
  } catch {
    return undefined; // no permission to start a worker: run without
  }
  let finish: (r: ShaderWarmupReport | undefined) => void = () => {};
  const done = new Promise<ShaderWarmupReport | undefined>((resolve) => (finish = resolve));
  // Tell the worker which shaders the main thread has created (and so compiles itself), so that it skips them.
  const device = backendDevice();
  const original = device?.createShaderModule;
  const hooked = (d: GPUShaderModuleDescriptor) => {
    worker?.postMessage({ type: "created", hash: shaderHash(d.code) } satisfies ShaderCreatedMessage);
    return original!.call(device, d);
  };
  if (device && original) device.createShaderModule = hooked;
  const end = () => {
    worker?.terminate();
    worker = undefined;
    if (device && device.createShaderModule === hooked) device.createShaderModule = original!;
  };
  const stop = () => {
    end();
    finish(undefined);
  };
  worker.onmessage = (e: MessageEvent<ShaderWarmupMessage>) => {
    const m = e.data;
    if (m.type === "listed") {
      opts.onListed?.(m.train, m.eval);
      return;
    }
    if (!m.report.error && !opts.listOnly && marker) writeMarker(marker, m.report);
    end();
    finish(m.report);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    end();
    finish({ trainShaders: 0, evalShaders: 0, compiled: 0, skipped: 0, listMs: 0, ms: 0, error: e.message });
  };
  const request: ShaderWarmupRequest = {
    config: JSON.parse(JSON.stringify(config)),
    numClasses,
    fastKernels: fastKernelsEnabled(),
    kernelTarget: kernelTarget(),
    listOnly: opts.listOnly,
  };
  worker.postMessage(request);
  return { done, stop };
}

/**
 * appaunet's environment knobs, which can change which shaders run (lavapipe's vector width is in the adapter's
 * description already).
 */
function envKnobs(): Record<string, string> {
  try {
    return Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => k.startsWith("APPAUNET_"))
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  } catch {
    return {};
  }
}

function exists(file: string): boolean {
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}

function writeMarker(file: string, report: ShaderWarmupReport): void {
  try {
    Deno.mkdirSync(path.dirname(file), { recursive: true });
    Deno.writeTextFileSync(file, JSON.stringify({ written: new Date().toISOString(), ...report }) + "\n");
  } catch {
    // no permission: later runs warm up again, which costs a little time and nothing else
  }
}
