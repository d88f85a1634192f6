/**
 * TensorFlow.js backend bootstrap: WebGPU (Deno's built-in `navigator.gpu`) or the pure-JS `cpu` backend.
 *
 * Over 400 lines: backend selection, the adapter's facts and the submit policy are one setup sequence.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { vulkanDriverManifests } from "./vulkan_drivers.ts";
import { markBackendUsed, type SubmittingBackend } from "../kernels/tfjs_internals.ts";
import { type KernelTarget, kernelTarget, noteAdapterKind } from "../kernels/policy.ts";
import { fastKernelsDisabledReason, installFastKernels } from "../kernels/registry.ts";
import { cacheDispatchResources } from "./webgpu_dispatch_cache.ts";

/** Which tfjs backend to run on. */
export type BackendName = "webgpu" | "cpu";

/** Options for {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** Backend to use. Default `"webgpu"`. */
  backend?: BackendName;
  /**
   * When the WebGPU adapter cannot be obtained, fall back to `cpu` (with a warning on stderr) instead of
   * throwing. Default `false`: a silent fall back would make a run 10–100× slower without telling anyone.
   */
  allowFallback?: boolean;
  /** Print warnings (fallback, old Mesa) to stderr. Default `true`. */
  warn?: boolean;
  /**
   * How many GPU dispatches tfjs records before it submits them to the device queue (tfjs's flag
   * `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`), a positive integer. Default: {@linkcode SOFTWARE_SUBMIT_BATCH_SIZE}
   * (256) on a software adapter, where every queue submission has a fixed cost on the CPU that the kernels also
   * run on (measured on Mesa 25 lavapipe: the 128² S train step 13 % and the 64² mtl step 25 % faster than with
   * tfjs's 15); tfjs's own default (15) on a GPU, where the larger batch was not measured. A larger batch holds
   * the buffers of tensors disposed within it until the submission (+134 MiB peak at 128², batch 8, mtl step).
   * A value set with `tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", n)` before this call is kept when this
   * option is not given. Ignored for `cpu`.
   */
  submitBatchSize?: number;
}

/** Default {@linkcode InitBackendOptions.submitBatchSize} on a software WebGPU adapter (lavapipe, SwiftShader, WARP). */
export const SOFTWARE_SUBMIT_BATCH_SIZE = 256;

const SUBMIT_FLAG = "WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE";
/** tfjs-backend-webgpu 4.22's own default for {@linkcode SUBMIT_FLAG}, kept on GPUs. */
const TFJS_SUBMIT_BATCH_SIZE = 15;

/** Adapter facts that matter for speed and memory. */
export interface AdapterInfo {
  /** e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"` or the GPU name. */
  description: string;
  /** PCI vendor id or name, as the adapter reports it. */
  vendor: string;
  /** Architecture string (often empty). */
  architecture: string;
  /** `true` for a software adapter (Mesa lavapipe / llvmpipe, SwiftShader, WARP). */
  isFallbackAdapter: boolean;
  /** Largest storage buffer one binding may hold, in bytes. */
  maxStorageBufferBindingSize: number;
  /** Workgroup shared memory available to one compute workgroup, in bytes. */
  maxComputeWorkgroupStorageSize: number;
  /** Largest number of invocations in one workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
  /** Mesa version (e.g. `"25.0.7"`) when the adapter is Mesa's lavapipe and the version could be read. */
  mesaVersion?: string;
  /** `DENO_WEBGPU_BACKEND` in effect (e.g. `"vulkan"`, set by {@linkcode initBackend} on Linux), if any. */
  denoWebgpuBackend?: string;
  /**
   * SIMD width in bits that Mesa's software adapter compiles shaders for (from its description, e.g. 128 with
   * {@linkcode SOFTWARE_VECTOR_WIDTH}), when the adapter is lavapipe/llvmpipe.
   */
  softwareVectorBits?: number;
}

/** What {@linkcode backendInfo} reports. */
export interface BackendInfo {
  /** The active tfjs backend. */
  backend: string;
  /** Adapter details (only for `webgpu`). */
  adapter?: AdapterInfo;
  /** Versions of the runtime and of tfjs. */
  versions: { deno: string; tfjs: string };
  /** Human-readable warnings (e.g. an old Mesa, or a fallback to cpu). */
  warnings: string[];
  /** Dispatches per queue submission in effect (only for `webgpu`); see {@linkcode InitBackendOptions.submitBatchSize}. */
  submitBatchSize?: number;
  /** The adapter kind the fast kernels choose for (only for `webgpu`); see `setKernelTarget`. */
  kernelTarget?: KernelTarget;
}

/**
 * Thrown when the requested backend cannot be started. The message says how to fix it.
 *
 * @example
 * ```ts
 * import { BackendError, type BackendName, initBackend } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const name = "tpu" as BackendName; // e.g. read from a config file
 * await assert.rejects(initBackend({ backend: name }), BackendError);
 * ```
 */
export class BackendError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed and how to fix it
   */
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

let lastAdapter: AdapterInfo | undefined;
/** The submit batch size this module last set (so a second initBackend does not mistake it for the user's). */
let submitBatchSetByUs: number | undefined;
let mesaVersion: string | null | undefined; // read once: it means scanning the driver library

/**
 * tfjs-backend-cpu prints an "install tfjs-node" banner on first use under Node-like runtimes; Deno has no
 * tfjs-node, so the advice is wrong here.
 */
function silenceCpuBanner(): void {
  markBackendUsed();
}
const warnings: string[] = [];

/** Whether {@linkcode preferVulkanOnLinux} set `DENO_WEBGPU_BACKEND` (for the no-adapter message). */
let vulkanSetByUs = false;

/**
 * On Linux, makes Deno's WebGPU use only its Vulkan backend when a Vulkan driver is installed and the user has not
 * chosen one with `DENO_WEBGPU_BACKEND`. Must run before the first `requestAdapter()` (Deno creates its wgpu
 * instance then, with the backends that variable names). Why: by default wgpu also probes OpenGL through
 * libglvnd's libEGL, which registers a per-thread destructor; when the thread that used WebGPU ends while the
 * process exits, that destructor and libEGL's own exit handler free the same state — "double free or corruption"
 * and exit code 134 after a successful run (seen under `deno test`, whose test modules run on pool threads).
 * Skipping the GL probe avoids it, and Vulkan is the faster path anyway (≈ 5× faster shader compiles than GL on
 * Mesa). Returns the value in effect, or `undefined` when nothing was set.
 */
function preferVulkanOnLinux(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const chosen = Deno.env.get("DENO_WEBGPU_BACKEND");
    if (chosen) return chosen;
    const driverNamed = Deno.env.get("VK_ICD_FILENAMES") || Deno.env.get("VK_DRIVER_FILES");
    if (!driverNamed && vulkanDriverManifests().length === 0) return undefined;
    Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
    vulkanSetByUs = true;
    return "vulkan";
  } catch {
    return undefined; // no env permission: leave Deno's default (all backends)
  }
}

/**
 * `LP_NATIVE_VECTOR_WIDTH` that {@linkcode initBackend} sets for Mesa's software rasterizer (lavapipe) when the user
 * has not set it: 128-bit vectors (4 invocations per SIMD instruction) instead of Mesa's default on AVX2 machines,
 * 256. Measured on our 2-vCPU AVX2 machine with Mesa 25.0.7 and the fast kernels: shaders compile 1.8× faster (all
 * 137 shaders of a 128² mtl step 38.6 → 21.7 s; the cold first step 48.8–49.6 → 25.9–27.8 s), and steps run 6–25 %
 * faster (128² mtl step 4.90–4.94 → 4.49–4.52 s, S forward + backward 4.02–4.21 → 3.12–3.89 s): our kernels are bound
 * by per-lane loads and stores, which cost the same per lane at either width, and narrower code spills less.
 * Mesa reads the variable once, when the driver first starts in the process, so it only takes effect when
 * `initBackend` (or {@linkcode webgpuAvailable}) requests the first adapter. Real GPU drivers ignore it.
 *
 * @example Keep Mesa's own default instead: set the variable before the first `initBackend`
 * ```ts
 * import { SOFTWARE_VECTOR_WIDTH } from "./backend.ts";
 * import assert from "node:assert/strict";
 * assert.equal(SOFTWARE_VECTOR_WIDTH, 128);
 * // Deno.env.set("LP_NATIVE_VECTOR_WIDTH", "256"); // or LP_NATIVE_VECTOR_WIDTH=256 in the shell
 * ```
 */
export const SOFTWARE_VECTOR_WIDTH = 128;

/**
 * On Linux, sets `LP_NATIVE_VECTOR_WIDTH` to {@linkcode SOFTWARE_VECTOR_WIDTH} unless the user has set it (the width
 * in effect is read back from the adapter's description, see {@linkcode AdapterInfo.softwareVectorBits}).
 */
function preferNarrowSoftwareVectors(): void {
  if (Deno.build.os !== "linux") return;
  try {
    if (!Deno.env.get("LP_NATIVE_VECTOR_WIDTH")) Deno.env.set("LP_NATIVE_VECTOR_WIDTH", String(SOFTWARE_VECTOR_WIDTH));
  } catch {
    // no env permission: Mesa's default
  }
}

/**
 * Whether a WebGPU adapter can be obtained in this process (after the Linux Vulkan preference described in
 * {@linkcode initBackend}). Tests and benchmarks use it to skip WebGPU cases on machines without an adapter.
 *
 * @example
 * ```ts
 * import { webgpuAvailable } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(typeof (await webgpuAvailable()), "boolean");
 * ```
 * @returns `true` when `navigator.gpu.requestAdapter()` returns an adapter
 */
export async function webgpuAvailable(): Promise<boolean> {
  return typeof (await requestAdapter()) !== "string";
}

/**
 * Applies the Linux Vulkan preference and requests the adapter; returns it with the `DENO_WEBGPU_BACKEND` in effect,
 * or why there is none.
 */
async function requestAdapter(): Promise<{ adapter: GPUAdapter; denoWebgpuBackend?: string } | string> {
  const denoWebgpuBackend = preferVulkanOnLinux();
  preferNarrowSoftwareVectors();
  const gpu = (navigator as unknown as { gpu?: GPU }).gpu;
  if (!gpu) return "navigator.gpu is missing in this runtime";
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return `requestAdapter failed: ${(e as Error).message}`;
  }
  return adapter ? { adapter, denoWebgpuBackend } : "requestAdapter returned null";
}

/** Finds the Mesa version of the lavapipe Vulkan driver by reading the driver library's version string. */
function readMesaVersion(): string | undefined {
  for (const manifest of vulkanDriverManifests()) {
    if (!manifest.split("/").pop()!.startsWith("lvp_icd")) continue;
    try {
      const icd = JSON.parse(Deno.readTextFileSync(manifest));
      let lib: string = icd?.ICD?.library_path ?? "";
      if (!lib.startsWith("/")) {
        const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
        lib = `/usr/lib/${arch}-linux-gnu/${lib}`;
      }
      const bytes = Deno.readFileSync(lib);
      const text = new TextDecoder("latin1").decode(bytes);
      const m = text.match(/Mesa (\d+\.\d+(?:\.\d+)?)/);
      if (m) return m[1];
    } catch {
      // unreadable driver: version unknown
    }
  }
  return undefined;
}

/**
 * Starts a tfjs backend. With `webgpu` it requests the adapter first and fails with a clear message when none
 * exists (no GPU driver, or headless Linux without `mesa-vulkan-drivers`).
 *
 * On Linux, when `DENO_WEBGPU_BACKEND` is unset and a Vulkan driver is installed, it sets that variable to
 * `vulkan` before the first adapter request, so Deno's WebGPU skips its OpenGL/EGL probe: that probe can crash the
 * process at exit (libglvnd double free, exit code 134) and GL compiles shaders ≈ 5× slower on Mesa. Set
 * `DENO_WEBGPU_BACKEND` yourself (e.g. `gl`, or `vulkan,gl`) to override. Likewise it sets `LP_NATIVE_VECTOR_WIDTH`
 * to {@linkcode SOFTWARE_VECTOR_WIDTH} (128) when unset, which makes Mesa's software adapter compile shaders ≈ 1.8×
 * faster and run our kernels faster; set it yourself (e.g. `256`) to override.
 *
 * On `webgpu` it also makes tfjs reuse uniform buffers and bind groups across dispatches that need the same ones
 * instead of creating them on every dispatch (`webgpu_dispatch_cache.ts`).
 *
 * @example Start the cpu backend (always available)
 * ```ts
 * import { initBackend } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const info = await initBackend({ backend: "cpu" });
 * assert.equal(info.backend, "cpu");
 * ```
 * @param opts backend choice and fallback policy
 * @returns the same report as {@linkcode backendInfo}
 * @throws {BackendError} when the backend cannot start and `allowFallback` is false
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const backend = opts.backend ?? "webgpu";
  const warn = opts.warn ?? true;
  if (backend !== "webgpu" && backend !== "cpu") {
    throw new BackendError(`Unknown backend "${backend}": use "webgpu" or "cpu".`);
  }
  const batch = opts.submitBatchSize;
  if (batch !== undefined && !(Number.isInteger(batch) && batch >= 1)) {
    throw new BackendError(`submitBatchSize: ${batch} is not a positive integer (dispatches per queue submission).`);
  }
  warnings.length = 0;
  // tfjs's webgpu backend and appaunet's kernels are installed here, not when the module is imported.
  await import("@tensorflow/tfjs-backend-webgpu");
  installFastKernels();
  const off = fastKernelsDisabledReason();
  if (off) {
    warnings.push(off);
    if (warn) console.error(`warning: ${off}`);
  }
  if (backend === "webgpu") {
    const reason = await probeWebGpu();
    if (reason === undefined) {
      const ok = await tf.setBackend("webgpu");
      if (ok) {
        await tf.ready();
        applySubmitBatchSize(batch, lastAdapter?.isFallbackAdapter ?? false);
        noteAdapterKind(lastAdapter?.isFallbackAdapter);
        submitAfterNewPipelines(tf.backend());
        cacheDispatchResources(tf.backend());
        return backendInfo();
      }
    }
    const message = `No WebGPU adapter is available (${reason ?? "tfjs could not start webgpu"}). ` +
      "Install a GPU driver, or on headless Linux the software Vulkan adapter " +
      "(Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1; Mesa >= 25 is 4-7x faster), " +
      "or run on the pure-JS backend with --backend cpu." +
      (vulkanSetByUs
        ? " (appaunet limited Deno's WebGPU to Vulkan because a Vulkan driver is installed; set " +
          "DENO_WEBGPU_BACKEND=gl to try OpenGL instead.)"
        : "");
    if (!opts.allowFallback) throw new BackendError(message);
    warnings.push(`${message} Falling back to cpu because fallback was allowed.`);
    if (warn) console.error(`warning: ${warnings[warnings.length - 1]}`);
  }
  await tf.setBackend("cpu");
  await tf.ready();
  silenceCpuBanner();
  return backendInfo();
}

/**
 * Sets tfjs's dispatches-per-submission flag: the explicit option, else a value the user set before, else the
 * default for the adapter class (see {@linkcode InitBackendOptions.submitBatchSize}).
 */
function applySubmitBatchSize(requested: number | undefined, software: boolean): void {
  const env = tf.env();
  const userSet = Object.hasOwn(env.getFlags(), SUBMIT_FLAG) && env.getNumber(SUBMIT_FLAG) !== submitBatchSetByUs;
  let value = requested;
  if (value === undefined && !userSet) value = software ? SOFTWARE_SUBMIT_BATCH_SIZE : TFJS_SUBMIT_BATCH_SIZE;
  if (value === undefined) return;
  env.set(SUBMIT_FLAG, value);
  submitBatchSetByUs = value;
}

/**
 * Makes the webgpu backend submit its queue right after recording a dispatch whose pipeline it has just created,
 * whatever the batch size. While a model runs for the first time, creating each pipeline takes the JS thread
 * milliseconds (and lavapipe compiles or loads the shader at its first dispatch); submitting then lets the device
 * work on what was recorded meanwhile instead of waiting for a full batch (measured on lavapipe: with batches of 256
 * the first 128² mtl step took 8.0–9.9 s against 6.0–8.8 s with 15; see bench/README.md). Once every pipeline
 * exists the batch size alone decides. Does nothing when the backend lacks the (private) members it wraps.
 */
function submitAfterNewPipelines(backend: unknown): void {
  const b = backend as Partial<SubmittingBackend>;
  if (
    b.appaunetSubmitPolicy || !b.pipelineCache || typeof b.recordAndSubmit !== "function" ||
    typeof b.endComputePassEncoder !== "function" || typeof b.submitQueue !== "function"
  ) return;
  let fresh = false;
  b.pipelineCache = new Proxy(b.pipelineCache, {
    set(target, key, value) {
      target[key as string] = value;
      fresh = true;
      return true;
    },
  });
  const record = b.recordAndSubmit;
  b.recordAndSubmit = function (this: SubmittingBackend, ...args: unknown[]) {
    record.apply(this, args);
    if (!fresh) return;
    fresh = false;
    if (this.commandEncoder) {
      this.endComputePassEncoder();
      this.submitQueue();
    }
  };
  b.appaunetSubmitPolicy = true;
}

/** Requests the adapter ourselves so we can report it; returns a reason string when there is none. */
async function probeWebGpu(): Promise<string | undefined> {
  const got = await requestAdapter();
  if (typeof got === "string") return got;
  const { adapter, denoWebgpuBackend } = got;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const limits = adapter.limits;
  const description = info.description || "";
  const isSoftware = Boolean(
    info.isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  ) ||
    /llvmpipe|lavapipe|swiftshader|warp/i.test(description);
  lastAdapter = {
    description,
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    isFallbackAdapter: isSoftware,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
  };
  if (denoWebgpuBackend) lastAdapter.denoWebgpuBackend = denoWebgpuBackend;
  if (/llvmpipe|lavapipe/i.test(description)) {
    const bits = /(\d+) bits/.exec(description);
    if (bits) lastAdapter.softwareVectorBits = Number(bits[1]);
    if (mesaVersion === undefined) mesaVersion = readMesaVersion() ?? null;
    const v = mesaVersion ?? undefined;
    if (v) lastAdapter.mesaVersion = v;
    const major = v ? Number(v.split(".")[0]) : NaN;
    if (Number.isFinite(major) && major < 25) {
      warnings.push(
        `The software WebGPU adapter is Mesa ${v}; Mesa >= 25 runs tfjs kernels 4-7x faster ` +
          "(Debian bookworm: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1).",
      );
    }
  }
  return undefined;
}

/**
 * Reports the active backend, the WebGPU adapter (when active) and versions.
 *
 * @example
 * ```ts
 * import { backendInfo, initBackend } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * assert.equal(backendInfo().versions.tfjs, "4.22.0");
 * ```
 * @returns backend name, adapter facts, versions and warnings
 */
export function backendInfo(): BackendInfo {
  const backend = tf.getBackend() ?? "none";
  return {
    backend,
    adapter: backend === "webgpu" ? lastAdapter : undefined,
    versions: { deno: Deno.version.deno, tfjs: tf.version.tfjs },
    warnings: [...warnings],
    ...(backend === "webgpu"
      ? { submitBatchSize: tf.env().getNumber(SUBMIT_FLAG), kernelTarget: kernelTarget(tf.backend()) }
      : {}),
  };
}
