/**
 * Winograd F(m×m, 3×3): which convolutions it takes, their tile geometry and uniforms, and the F(2×2)/F(4×4)
 * variants' matrices (see webgpu_winograd.ts for the algorithm).
 *
 * @module
 */
import type { backend_util } from "@tensorflow/tfjs";
import { flatProgramWith, kernelEnv } from "./webgpu_program.ts";
import { fastConvEligible } from "./webgpu_conv.ts";

export type ConvInfo = ReturnType<typeof backend_util.computeConv2DInfo>;

/** Geometry of one Winograd correlation: input `[N, H, W, K]` → output `[N, OH, OW, C]`, padding PT/PL. */
export interface Geometry {
  N: number;
  H: number;
  W: number;
  K: number;
  OH: number;
  OW: number;
  C: number;
  PT: number;
  PL: number;
}

export const PRELUDE = `
    let N = uniforms.g0.x; let H = uniforms.g0.y; let W = uniforms.g0.z; let K = uniforms.g0.w;
    let OH = uniforms.g1.x; let OW = uniforms.g1.y; let C = uniforms.g1.z; let PT = uniforms.g1.w;
    let PL = uniforms.g2.x; let TH = uniforms.g2.y; let TW = uniforms.g2.z; let T = uniforms.g2.w;
    let E0 = uniforms.g3.x; let E1 = uniforms.g3.y; let E2 = uniforms.g3.z;`;

export const UNIFORMS = "g0 : vec4<i32>, g1 : vec4<i32>, g2 : vec4<i32>, g3 : vec4<i32>,";

/** Output tile side m of F(m×m, 3×3), or 0 when off; from `APPAUNET_WINOGRAD` (`0`, `2` or `4`; default 4). */
export function envTile(): 0 | 2 | 4 {
  const v = kernelEnv("APPAUNET_WINOGRAD");
  return v === "0" ? 0 : v === "2" ? 2 : 4;
}

export let tile: 0 | 2 | 4 = envTile();

/**
 * Turns the Winograd path on or off and picks its output tile (on with F(4×4, 3×3) by default;
 * `APPAUNET_WINOGRAD=0|2|4` sets the starting value). With it off, the direct kernels of `webgpu_conv.ts` run these
 * convolutions; benchmarks and tests use this to compare the two. F(4×4, 3×3) does 4× fewer multiplies than a direct
 * 3×3 convolution and writes 2.25× the activation size between passes; F(2×2, 3×3) does 2.25× fewer and writes 4×,
 * but is the more accurate of the two (≈ 3e-7 vs ≈ 3e-6 of the output's magnitude on our shapes).
 *
 * @example
 * ```ts
 * import { useWinograd } from "./webgpu_winograd.ts";
 * useWinograd(false); // direct kernels only
 * useWinograd(true, 2); // F(2×2, 3×3)
 * useWinograd(true); // back to the default, F(4×4, 3×3)
 * ```
 *
 * @param enabled whether eligible 3×3 stride-1 convolutions use Winograd
 * @param outputTile m of F(m×m, 3×3): 4 (default) or 2
 */
export function useWinograd(enabled: boolean, outputTile: 2 | 4 = 4): void {
  if (outputTile !== 2 && outputTile !== 4) {
    throw new RangeError(`useWinograd: outputTile must be 2 or 4, got ${outputTile}`);
  }
  tile = enabled ? outputTile : 0;
}

/**
 * The Winograd output tile in use: 4 or 2 (F(m×m, 3×3)), 0 when the Winograd path is off.
 *
 * @example
 * ```ts
 * import { winogradOutputTile } from "./webgpu_winograd.ts";
 * console.log(winogradOutputTile()); // 4 unless APPAUNET_WINOGRAD says otherwise
 * ```
 *
 * @returns m, or 0
 */
export function winogradOutputTile(): 0 | 2 | 4 {
  return tile;
}

/**
 * Whether a convolution takes the Winograd path: NHWC, 3×3, stride 1, no dilation, channel counts that are
 * multiples of 4 and at least 8 on both sides (smaller ones, e.g. the 1-channel pyramid inputs, stay direct).
 *
 * @param info convolution geometry (of the forward convolution)
 * @returns true when {@linkcode conv2dWinogradWebGpu} and {@linkcode conv2dBackpropInputWinogradWebGpu} apply
 */
export function winogradEligible(info: ConvInfo): boolean {
  return tile !== 0 && fastConvEligible(info) && info.filterHeight === 3 && info.filterWidth === 3 &&
    info.strideHeight === 1 && info.strideWidth === 1 && info.inChannels % 4 === 0 && info.outChannels % 4 === 0 &&
    info.inChannels >= 8 && info.outChannels >= 8;
}

/** The geometry of the forward convolution itself. */
export function forwardGeometry(info: ConvInfo): Geometry {
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    K: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    C: info.outChannels,
    PT: info.padInfo.top,
    PL: info.padInfo.left,
  };
}

export function tiles(g: Geometry, m: number) {
  const TH = Math.ceil(g.OH / m), TW = Math.ceil(g.OW / m);
  return { TH, TW, T: g.N * TH * TW };
}

export function uniforms(g: Geometry, e0: number, m: number, e1 = 0, e2 = 0) {
  const { TH, TW, T } = tiles(g, m);
  return [
    [g.N, g.H, g.W, g.K],
    [g.OH, g.OW, g.C, g.PT],
    [g.PL, TH, TW, T],
    [e0, e1, e2, 0],
  ].map((data) => ({ type: "int32", data }));
}

export const program = flatProgramWith(UNIFORMS, PRELUDE);

/** One Winograd algorithm F(m×m, 3×3): tile side n = m + 2, transforms Bᵀ (n×n), G (n×3), Aᵀ (m×n). */
export interface Variant {
  m: number;
  bt: number[][];
  g: number[][];
  at: number[][];
}

/** F(2×2, 3×3) (Lavin & Gray, eq. 7–8): interpolation points 0, ±1, ∞. */
export const F2: Variant = {
  m: 2,
  bt: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  g: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  at: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

/** F(4×4, 3×3) (Lavin & Gray, §4.2): interpolation points 0, ±1, ±2, ∞. */
export const F4: Variant = {
  m: 4,
  bt: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  g: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  at: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

/** The algorithm in use (callers check {@linkcode winogradEligible} first, so the path is on). */
export function variant(): Variant {
  return tile === 2 ? F2 : F4;
}

/** vec4 channel groups per register tile along a channel axis: 2 (8 channels) when the count allows, else 1. */
export function groups(channels: number): 1 | 2 {
  return channels % 8 === 0 ? 2 : 1;
}

/** WGSL expressions of `mat · xs` (one per row), zero coefficients skipped. */
