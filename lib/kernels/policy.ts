/**
 * Which of appaunet's replacement kernels run, by kind of WebGPU adapter.
 *
 * The replacements were designed and tuned on a CPU adapter (Mesa's lavapipe), where they beat tfjs's own kernels
 * everywhere. On a GPU (measured on an NVIDIA H100 through Vulkan, see bench/README.md, "GPU: NVIDIA H100") most still
 * win by a wide margin — the filter gradients by 1.6–266×, the Winograd 3×3 convolutions by 1.8–9.4× in kernel time,
 * the per-channel, pooling and ReLU kernels — but some lose to tfjs's tiled kernels, which a GPU runs well and a CPU
 * does not. On a GPU:
 *
 * - direct (non-Winograd) `Conv2D` / `FusedConv2D` with ≥ 3 input and output channels: stock (1.5–2.4× faster there);
 * - direct `Conv2DBackpropInput` (4×4 stride 2, 2×2 transposed, 1×1, few channels): stock (1.3–5.3× faster there);
 * - `Concat` and `SplitV` along the last axis: stock (1.4–4× faster there);
 * - `Sum` / `Mean` over every axis but the last: stock (ours was slower by up to 54 µs per call at 64²);
 * - Winograd 3×3 (forward, input and filter gradients): only for convolutions of ≥ 256 MFLOP while training and
 *   ≥ 1.2 GFLOP otherwise; smaller ones take the choices above (stock forward and input gradient, our direct filter
 *   gradient);
 * - the BatchNorm statistics (our column partial sums) stay ours, split into ≈ √rows / 2 chunks instead of ≈ 256
 *   lanes.
 *
 * Everything else runs the same replacement on both kinds. On the H100 the whole-model wall time was bound by the
 * JS cost of each dispatch (tens of µs in tfjs and Deno's WebGPU), not by the GPU, and a Winograd convolution
 * needs 4 dispatches where tfjs's needs 1: Winograd made the 64² train step (all convolutions ≤ 75 MFLOP) slower
 * and the 128² one (604 MFLOP each) faster; without gradients it made the 64² and 128² forward passes slower and
 * the 256² one (2.4 GFLOP each) faster. The thresholds sit between those measured sizes; the sizes in between were
 * not measured.
 *
 * @module
 */

/** The kind of adapter the kernel choices are made for. */
export type KernelTarget = "software" | "gpu";

let explicit: KernelTarget | undefined;
let detected: KernelTarget | undefined;
const guessed = new WeakMap<object, KernelTarget>();

/** PCI vendor ids (as Deno reports them, decimal or hex) and browser vendor names of software adapters. */
const SOFTWARE_VENDORS = new Set([
  "65541", // 0x10005: Mesa (lavapipe / llvmpipe)
  "0x10005",
  "mesa",
  "6880", // 0x1ae0: Google SwiftShader
  "0x1ae0",
  "google",
  "5140", // 0x1414: Microsoft WARP
  "0x1414",
  "microsoft",
]);

/**
 * Chooses the kernel set for a kind of adapter, overriding detection; `undefined` returns to detection.
 * {@linkcode initBackend} detects the kind from the adapter it starts (software: Mesa lavapipe/llvmpipe,
 * SwiftShader, WARP; anything else: GPU). When tfjs's `webgpu` backend was started some other way, the kind is
 * guessed from the adapter's vendor, and an adapter that reports none counts as software.
 *
 * @example
 * ```ts
 * import { kernelTarget, setKernelTarget } from "./policy.ts";
 * setKernelTarget("gpu");
 * console.log(kernelTarget()); // "gpu"
 * setKernelTarget(undefined);
 * ```
 * @param target `"software"`, `"gpu"`, or `undefined` for the detected kind
 */
export function setKernelTarget(target: KernelTarget | undefined): void {
  if (target !== undefined && target !== "software" && target !== "gpu") {
    throw new TypeError(`setKernelTarget: "${target}" is not "software", "gpu" or undefined.`);
  }
  explicit = target;
}

/**
 * Records the kind of adapter {@linkcode initBackend} started (internal; users call {@linkcode setKernelTarget}).
 *
 * @param software whether the adapter is a software (CPU) one
 */
export function noteAdapterKind(software: boolean | undefined): void {
  detected = software === undefined ? undefined : software ? "software" : "gpu";
}

/**
 * The kind of adapter the replacement kernels currently choose for: the value given to
 * {@linkcode setKernelTarget}, else the kind {@linkcode initBackend} detected, else a guess from the backend's
 * adapter vendor (software when unknown).
 *
 * @example
 * ```ts
 * import { kernelTarget } from "./policy.ts";
 * console.log(["software", "gpu"].includes(kernelTarget())); // true
 * ```
 * @param backend the tfjs webgpu backend (for the vendor guess)
 * @returns `"software"` or `"gpu"`
 */
export function kernelTarget(backend?: unknown): KernelTarget {
  if (explicit) return explicit;
  if (detected) return detected;
  if (!backend || typeof backend !== "object") return "software";
  let kind = guessed.get(backend);
  if (!kind) {
    const vendor = String((backend as { adapterInfo?: { vendor?: unknown } }).adapterInfo?.vendor ?? "")
      .trim().toLowerCase();
    kind = vendor === "" || SOFTWARE_VENDORS.has(vendor) ? "software" : "gpu";
    guessed.set(backend, kind);
  }
  return kind;
}

/** Smallest convolution (2·N·OH·OW·9·CIN·COUT FLOPs) that runs by Winograd on a GPU while training. */
export const GPU_WINOGRAD_MIN_FLOPS_TRAINING = 2.56e8;
/** Smallest convolution that runs by Winograd on a GPU outside training (inference). */
export const GPU_WINOGRAD_MIN_FLOPS_INFERENCE = 1.2e9;

/**
 * Whether a Winograd-eligible convolution should run by Winograd (always on a CPU adapter; on a GPU only when large
 * enough, see the table above).
 *
 * @param backend the tfjs webgpu backend
 * @param flops the direct convolution's FLOPs
 * @param training whether it is part of a training step (recording gradients, or a gradient kernel)
 * @returns true to use Winograd
 */
export function winogradWorthIt(backend: unknown, flops: number, training: boolean): boolean {
  if (!onGpu(backend)) return true;
  return flops >= (training ? GPU_WINOGRAD_MIN_FLOPS_TRAINING : GPU_WINOGRAD_MIN_FLOPS_INFERENCE);
}

/**
 * Whether the kernels choose for a GPU.
 *
 * @param backend the tfjs webgpu backend
 * @returns `kernelTarget(backend) === "gpu"`
 */
export function onGpu(backend?: unknown): boolean {
  return kernelTarget(backend) === "gpu";
}
