/**
 * Winograd convolution F(m×m, 3×3), m = 4 (default) or 2, for the tfjs `webgpu` backend (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", CVPR 2016, arXiv 1509.09308). It takes every 3×3 stride-1
 * convolution of S's encoder and decoder (channel counts multiples of 4, ≥ 8) and both of its gradients:
 *
 * - forward: U = G g Gᵀ (filter), V = Bᵀ d B (each n×n input tile, n = m + 2, zero outside the image),
 *   M[p] = V[p] · U[p] for the n² positions p (a batched product, register-tiled like the direct kernels: 8 tiles ×
 *   8 channels per invocation), Y = Aᵀ M A (+ bias, relu) per tile: 4 dispatches.
 * - input gradient: the same algorithm on dy with the filter rotated by 180° and its channel axes swapped, padded by
 *   2 − (forward padding).
 * - filter gradient: with the forward tile Aᵀ (U ⊙ V) A, dL/dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ V] G: V of x, A dy Aᵀ of
 *   each m×m tile of dy, a per-position reduction over the tiles (split over chunks of tiles for parallelism), and
 *   one final transform that also sums the chunks. While tfjs records gradients, the forward keeps its V (up to
 *   256 MiB in all, released with the input's data) so the filter gradient does not transform x again.
 *
 * F(4×4, 3×3) does 36 multiplies per 16 outputs where a direct 3×3 convolution does 144 (F(2×2): 16 per 4); on
 * lavapipe the products run at about the direct kernels' GFLOP/s, and the transforms (memory passes over 2.25× the
 * activation size, 4× for F(2×2)) cost the rest: 1.15–2.7× (wall clock; 1.0–3.0× by kernel time) faster than the
 * direct kernels on S's shapes, most on the deep layers (bench/README.md). The transforms hold their data as `vec4<f32>` arrays (4 channels per load): fewer,
 * larger loads make the shaders compile in about half the time. Accuracy on our shapes: ≈ 1e-6–1e-5 of the output's
 * magnitude for F(4×4), ≈ 3e-7–4e-6 for F(2×2) (tests require 1e-4). `APPAUNET_WINOGRAD=0|2|4` or
 * {@linkcode useWinograd} switch it off or pick m; with it off the direct kernels of `webgpu_conv.ts` take these
 * shapes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { gradientDepth } from "./tfjs_internals.ts";
import { dataVersion, type WebGpuBackendLike } from "./webgpu_program.ts";
import type { FusedActivation } from "./webgpu_conv.ts";
import {
  type ConvInfo,
  forwardGeometry,
  type Geometry,
  groups,
  tiles,
  type Variant,
  variant,
} from "./webgpu_winograd_geometry.ts";
import {
  batchedProduct,
  filterGradTransform,
  filterTransform,
  inputTransform,
  outputGradTransform,
  outputTransform,
  tileReduction,
} from "./webgpu_winograd_shaders.ts";

export { useWinograd, winogradEligible, winogradOutputTile } from "./webgpu_winograd_geometry.ts";

/**
 * Input transforms of forward inputs, kept while tfjs records gradients so that the filter gradient of the same
 * convolution (which transforms the same x the same way) reuses them instead of recomputing. Keyed by the input's data
 * id; an entry is dropped (and its buffer released) as soon as that input's data is gone from the backend, checked at
 * every Winograd call, so at most the transforms of the live activations of one step are held, and never more than
 * {@linkcode INPUT_TRANSFORM_BUDGET} bytes (past it, transforms are recomputed as without the cache). An entry whose
 * input was overwritten in place since (a variable updated by the fused Adam, {@linkcode dataVersion}) is a miss. Measured: S
 * forward + backward at 128² 4.68 → 4.45 s (medians of 6, interleaved).
 */
const inputTransforms = new Map<object, { key: string; v: tf.TensorInfo; bytes: number; version: number }>();

/** Most bytes of input transforms held for reuse (256 MiB; measured peak: 160 MiB at 128², base 16, batch 8). */
const INPUT_TRANSFORM_BUDGET = 256 * 2 ** 20;

let heldBytes = 0;

function transformKey(g: Geometry, f: Variant): string {
  return [g.N, g.H, g.W, g.K, g.OH, g.OW, g.PT, g.PL, f.m].join(",");
}

/** Releases the cached transforms whose input data the backend no longer holds. */
function sweepInputTransforms(backend: WebGpuBackendLike): void {
  const map = (backend as { tensorMap?: { has(id: object): boolean } }).tensorMap;
  for (const [id, entry] of inputTransforms) {
    if (!map?.has(id)) {
      backend.disposeData(entry.v.dataId);
      heldBytes -= entry.bytes;
      inputTransforms.delete(id);
    }
  }
}

/**
 * Whether tfjs is recording operations for a gradient (inside `tf.grads`, `minimize`, …).
 *
 * @returns true while a gradient tape records
 */
export function recordingGradients(): boolean {
  return gradientDepth() > 0;
}

/**
 * V of x for geometry g: the cached one when there is, else computed (and cached when `keep`). The caller disposes
 * the result only when `owned` is true.
 */
function inputTransformOf(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  g: Geometry,
  f: Variant,
  keep: boolean,
): { v: tf.TensorInfo; owned: boolean } {
  sweepInputTransforms(backend);
  const key = transformKey(g, f);
  const hit = inputTransforms.get(x.dataId);
  const version = dataVersion(x.dataId); // x may be a variable that an optimizer updated in place since
  if (hit && hit.key === key && hit.version === version) return { v: hit.v, owned: false };
  const v = inputTransform(backend, x, g, f);
  const bytes = 4 * tf.util.sizeFromShape(v.shape);
  if (!keep || heldBytes + bytes - (hit?.bytes ?? 0) > INPUT_TRANSFORM_BUDGET) return { v, owned: true };
  if (hit) {
    backend.disposeData(hit.v.dataId);
    heldBytes -= hit.bytes;
  }
  inputTransforms.set(x.dataId, { key, v, bytes, version });
  heldBytes += bytes;
  return { v, owned: false };
}

/**
 * How many input transforms are held for reuse by filter gradients (for tests and diagnostics).
 *
 * @returns the number of cached transforms
 */
export function cachedInputTransforms(): number {
  return inputTransforms.size;
}

function winograd(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  activation: FusedActivation,
  g: Geometry,
  flipped: boolean,
): tf.TensorInfo {
  const f = variant();
  const u = filterTransform(backend, filter, g, flipped, f);
  // The forward's V is what the filter gradient needs; dy's (input gradient) is used once.
  const { v, owned } = flipped
    ? { v: inputTransform(backend, x, g, f), owned: true }
    : inputTransformOf(backend, x, g, f, recordingGradients());
  const m = batchedProduct(backend, v, u, g, f);
  backend.disposeData(u.dataId);
  if (owned) backend.disposeData(v.dataId);
  const y = outputTransform(backend, m, bias, activation, g, f);
  backend.disposeData(m.dataId);
  return y;
}

/**
 * Forward 3×3 stride-1 convolution (optionally with bias and relu) by Winograd F(m×m, 3×3) (m from
 * {@linkcode useWinograd}: 4 by default), NHWC.
 *
 * @param backend the webgpu backend
 * @param x input `[N, H, W, CIN]`
 * @param filter `[3, 3, CIN, COUT]`
 * @param bias `[COUT]` or undefined
 * @param activation linear or relu
 * @param info convolution geometry ({@linkcode winogradEligible} must hold)
 * @returns output `[N, OH, OW, COUT]`
 */
export function conv2dWinogradWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  activation: FusedActivation,
  info: ConvInfo,
): tf.TensorInfo {
  return winograd(backend, x, filter, bias, activation, forwardGeometry(info), false);
}

/**
 * Input gradient of a 3×3 stride-1 convolution by Winograd F(m×m, 3×3): dx is the correlation of dy with the
 * filter rotated by 180° and its channel axes swapped, padded by 2 − (forward padding).
 *
 * @param backend the webgpu backend
 * @param dy output gradient `[N, OH, OW, COUT]`
 * @param filter forward filter `[3, 3, CIN, COUT]`
 * @param info forward convolution geometry ({@linkcode winogradEligible} must hold)
 * @returns the input gradient `[N, H, W, CIN]`
 */
export function conv2dBackpropInputWinogradWebGpu(
  backend: WebGpuBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const g: Geometry = {
    N: info.batchSize,
    H: info.outHeight,
    W: info.outWidth,
    K: info.outChannels,
    OH: info.inHeight,
    OW: info.inWidth,
    C: info.inChannels,
    PT: 2 - info.padInfo.top,
    PL: 2 - info.padInfo.left,
  };
  return winograd(backend, dy, filter, undefined, "linear", g, true);
}

/**
 * Filter gradient of a 3×3 stride-1 convolution by Winograd: with U = G g Gᵀ the forward tile is Aᵀ (U ⊙ V) A, so
 * dL/dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ V] G (Lavin & Gray §5). The input transform V is the forward one.
 *
 * @param backend the webgpu backend
 * @param x forward input `[N, H, W, CIN]`
 * @param dy output gradient `[N, OH, OW, COUT]`
 * @param info forward convolution geometry ({@linkcode winogradEligible} must hold)
 * @returns the filter gradient `[3, 3, CIN, COUT]`
 */
export function conv2dBackpropFilterWinogradWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const g = forwardGeometry(info);
  const f = variant();
  const P = (f.m + 2) ** 2;
  const { T } = tiles(g, f.m);
  const tilesOfWork = P * (g.K / (4 * groups(g.K))) * (g.C / (4 * groups(g.C)));
  // Enough invocations for the device (as the direct dW kernel), in chunks of at least 16 tiles; a power of two so
  // that only a few shader variants exist.
  let S = 1;
  while (S * tilesOfWork < 4096 && T / (2 * S) >= 16) S *= 2;
  const { v, owned } = inputTransformOf(backend, x, g, f, false);
  const e = outputGradTransform(backend, dy, g, f);
  const z = tileReduction(backend, v, e, g, f, S);
  if (owned) backend.disposeData(v.dataId);
  backend.disposeData(e.dataId);
  const dw = filterGradTransform(backend, z, g, f, S);
  backend.disposeData(z.dataId);
  return dw;
}
