/**
 * WGSL convolution kernels for the tfjs `webgpu` backend, tuned for Mesa's lavapipe (a CPU: SIMD lanes are
 * invocations, so the win is many independent multiply-adds per load and no workgroup memory or barriers).
 * Each invocation keeps a large register tile; the geometry arrives as uniforms (baking it in as constants made the
 * shader compiler unroll for minutes).
 *
 * - `Conv2D` / `FusedConv2D` (bias, linear/relu): 8 output columns × 8 output channels per invocation.
 * - `Conv2DBackpropInput`: 8 input columns of one stride phase × 8 input channels (4 when there are ≤ 4, e.g. D's
 *   image ⊕ mask input), over weights transposed to `[KH, KW, COUT, CIN]` so every load of the inner loop is
 *   contiguous.
 * - `Conv2DBackpropFilter`: implicit GEMM dW = im2col(x)ᵀ·dy, 8 input × 8 output channels of one tap per
 *   invocation over a chunk of output rows (split-K), then a second pass sums the chunks. The stock kernel
 *   loops over the whole batch × image serially for every weight.
 *
 * On lavapipe every buffer load is a per-lane masked, bounds-checked sequence of ~10 instructions while a multiply-add
 * is one instruction per 8 lanes, so speed is set by loads per FMA (see bench/README.md for what was tried).
 * Tile sizes were chosen by measurement (bench/conv_micro.ts); `APPAUNET_FWD_TILE`, `APPAUNET_DX_TILE`,
 * `APPAUNET_DW_TILE` (e.g. `4x2`) override them for experiments. Only NHWC, dilation 1 and float32 take these
 * paths; anything else goes to the stock kernel.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { backend_util } from "@tensorflow/tfjs";
import { flatProgramWith, kernelEnv, runProgram, type WebGpuBackendLike } from "./webgpu_program.ts";

const DIMS = `
    let N = uniforms.d0.x; let H = uniforms.d0.y; let W = uniforms.d0.z; let CIN = uniforms.d0.w;
    let OH = uniforms.d1.x; let OW = uniforms.d1.y; let COUT = uniforms.d1.z; let KH = uniforms.d1.w;
    let KW = uniforms.d2.x; let SH = uniforms.d2.y; let SW = uniforms.d2.z; let PT = uniforms.d2.w;
    let PL = uniforms.d3.x; let E0 = uniforms.d3.y; let E1 = uniforms.d3.z; let E2 = uniforms.d3.w;`;

/** Geometry passed as uniforms (not baked in: constant loop bounds make the shader compiler unroll for minutes). */
function dims(info: ConvInfo, e0 = 0, e1 = 0, e2 = 0) {
  const d = [
    [info.batchSize, info.inHeight, info.inWidth, info.inChannels],
    [info.outHeight, info.outWidth, info.outChannels, info.filterHeight],
    [info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top],
    [info.padInfo.left, e0, e1, e2],
  ];
  return d.map((data) => ({ type: "int32", data }));
}

const CONV_UNIFORMS = "d0 : vec4<i32>, d1 : vec4<i32>, d2 : vec4<i32>, d3 : vec4<i32>,";

const convProgram = flatProgramWith(CONV_UNIFORMS, DIMS);

/** A vec4 of 4 scalar loads of `buf` at `base + 0..3`, lanes ≥ `limit - c0` replaced by 0 when `tail`. */
function load4(buf: string, base: string, c0: string, divisible: boolean, limit: string): string {
  if (divisible) return `vec4<f32>(${buf}[${base}], ${buf}[${base} + 1], ${buf}[${base} + 2], ${buf}[${base} + 3])`;
  const l = (k: number) => `select(0.0, ${buf}[${base} + ${k}], ${c0} + ${k} < ${limit})`;
  return `vec4<f32>(${l(0)}, ${l(1)}, ${l(2)}, ${l(3)})`;
}

/**
 * WGSL storing the vec4 groups `value(v)` (v in `cv`) at `result[base + 4v + c]` for the channels
 * `ch0 + 4v + c < limit` (the epilogue of every conv kernel).
 */
function storeGroups(cv: number[], base: string, ch0: string, limit: string, value: (v: number) => string): string {
  return cv.map((v) =>
    [0, 1, 2, 3].map((c) =>
      `if (${ch0} + ${4 * v + c} < ${limit}) { result[${base} + ${4 * v + c}] = ${value(v)}[${c}]; }`
    ).join(" ")
  ).join(" ");
}

/** A tile size from an environment variable like `8x2` (default 8 × 2); no env permission needed otherwise. */
function envTile(name: string): [number, number] {
  const m = kernelEnv(name)?.match(/^(\d+)x(\d+)$/);
  return m ? [Number(m[1]), Number(m[2])] : [8, 2];
}

type ConvInfo = ReturnType<typeof backend_util.computeConv2DInfo>;

/** Whether the fast kernels handle this geometry (NHWC, no dilation). */
export function fastConvEligible(info: ConvInfo): boolean {
  return info.dataFormat === "channelsLast" && info.dilationHeight === 1 && info.dilationWidth === 1;
}

/**
 * dW for NHWC x `[N,H,W,CIN]`, dy `[N,OH,OW,COUT]` → `[KH,KW,CIN,COUT]`.
 *
 * @param backend the webgpu backend
 * @param x input activations
 * @param dy output gradient
 * @param info convolution geometry
 * @returns the filter gradient
 */
export function conv2dBackpropFilterWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  // Long: the WGSL source of the kernel is inline with its dispatch geometry.
  const { batchSize: N, inChannels: CIN, outHeight: OH, outChannels: COUT } = info;
  const { filterHeight: KH, filterWidth: KW } = info;
  // Input channels per invocation: no more than there are (the image and image ⊕ mask inputs have 1–2).
  const CT = Math.min(DW_TILE[0], CIN), CV = DW_TILE[1];
  const CB = 4 * CV;
  const CIB = Math.ceil(CIN / CT), COB = Math.ceil(COUT / CB);
  const tiles = KH * KW * CIB * COB;
  const rows = N * OH;
  // Split the N·OH output rows into chunks (split-K) so that there are enough invocations for the device.
  const S = Math.min(rows, Math.max(1, Math.ceil(256 / tiles)));
  const rowsPer = Math.ceil(rows / S);
  const size = KH * KW * CIN * COUT;
  const ciExact = CIN % CT === 0, coExact = COUT % CB === 0;
  const ct = [...Array(CT).keys()], cv = [...Array(CV).keys()];
  const acc = (i: number, v: number) => `a${i}_${v}`;
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    var t = index;
    let COB = (COUT + ${CB - 1}) / ${CB};
    let CIB = (CIN + ${CT - 1}) / ${CT};
    let cob = t % COB; t = t / COB;
    let cib = t % CIB; t = t / CIB;
    let kw = t % KW; t = t / KW;
    let kh = t % KH;
    let s = t / KH;
    let co0 = cob * ${CB};
    let ci0 = cib * ${CT};
    ${ct.flatMap((i) => cv.map((v) => `var ${acc(i, v)} = vec4<f32>(0.0);`)).join(" ")}
    // Valid output columns for this tap: 0 <= ow*SW + kw - PL < W.
    let owMin = max(0, (PL - kw + SW - 1) / SW);
    let owMax = min(OW - 1, (W - 1 + PL - kw) / SW);
    let r1 = min(N * OH, (s + 1) * E1);
    for (var r = s * E1; r < r1; r = r + 1) {
      let oh = r % OH;
      let n = r / OH;
      let ih = oh * SH + kh - PT;
      if (ih < 0 || ih >= H) { continue; }
      let xRow = (n * H + ih) * W;
      let dRow = r * OW;
      for (var ow = owMin; ow <= owMax; ow = ow + 1) {
        let xb = (xRow + ow * SW + kw - PL) * CIN + ci0;
        let db = (dRow + ow) * COUT + co0;
        ${
    cv.map((v) => `let d${v} = ${load4("dy", `db + ${4 * v}`, `co0 + ${4 * v}`, coExact, "COUT")};`).join("\n        ")
  }
        ${
    ct.map((i) => `let x${i} = ${ciExact || i === 0 ? `x[xb + ${i}]` : `select(0.0, x[xb + ${i}], ci0 + ${i} < CIN)`};`)
      .join(" ")
  }
        ${ct.flatMap((i) => cv.map((v) => `${acc(i, v)} = ${acc(i, v)} + x${i} * d${v};`)).join("\n        ")}
      }
    }
    let out0 = ${S > 1 ? "s * E2 + " : ""}((kh * KW + kw) * CIN + ci0) * COUT + co0;
    ${
    ct.map((i) => `if (ci0 + ${i} < CIN) { ${storeGroups(cv, `out0 + ${i} * COUT`, "co0", "COUT", (v) => acc(i, v))} }`)
      .join("\n    ")
  }
  }`;
  const key = `appaunet_dw_${ciExact}_${coExact}_${S > 1}_${CT}x${CV}`;
  const partialShape = S > 1 ? [S, size] : [KH, KW, CIN, COUT];
  const partial = runProgram(
    backend,
    convProgram(key, partialShape, ["x", "dy"], tiles * S, code),
    [x, dy],
    "float32",
    dims(info, tiles * S, rowsPer, size),
  );
  if (S === 1) return partial;
  const sum = () => `
  fn main(index : i32) {
    if (index >= E2) { return; }
    var acc = 0.0;
    for (var s = 0; s < E1; s = s + 1) { acc = acc + partial[s * E2 + index]; }
    result[index] = acc;
  }`;
  const out = runProgram(
    backend,
    convProgram("appaunet_dw_sum", [KH, KW, CIN, COUT], ["partial"], size, sum),
    [partial],
    "float32",
    dims(info, 0, S, size),
  );
  backend.disposeData(partial.dataId);
  return out;
}

/** Filter-gradient register tile: input channels × vec4 groups of output channels per invocation. */
const DW_TILE = envTile("APPAUNET_DW_TILE");

/** Activations the forward kernel fuses. */
export type FusedActivation = "linear" | "relu";

/**
 * Forward convolution (optionally with bias and relu) for NHWC.
 *
 * @param backend the webgpu backend
 * @param x input `[N,H,W,CIN]`
 * @param filter `[KH,KW,CIN,COUT]`
 * @param bias `[COUT]` or undefined
 * @param activation linear or relu
 * @param info convolution geometry
 * @returns output `[N,OH,OW,COUT]`
 */
export function conv2dWebGpu(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  activation: FusedActivation,
  info: ConvInfo,
): tf.TensorInfo {
  const { batchSize: N, outHeight: OH, outWidth: OW, outChannels: COUT } = info;
  const [PX, CV] = FWD_TILE;
  const CB = 4 * CV;
  const OWB = Math.ceil(OW / PX), COB = Math.ceil(COUT / CB);
  const total = N * OH * OWB * COB;
  const names = bias ? ["x", "w", "bias"] : ["x", "w"];
  const px = [...Array(PX).keys()], cv = [...Array(CV).keys()];
  const exact = COUT % CB === 0;
  const col = (j: number) => `
        let iw${j} = (ow0 + ${j}) * SW + kw - PL;
        let ok${j} = iw${j} >= 0 && iw${j} < W && ow0 + ${j} < OW;
        let xb${j} = select(0, (xRow + iw${j}) * CIN, ok${j});`;
  const acc = (j: number, v: number) => `a${j}_${v}`;
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    var t = index;
    let COB = (COUT + ${CB - 1}) / ${CB};
    let OWB = (OW + ${PX - 1}) / ${PX};
    let cob = t % COB; t = t / COB;
    let owb = t % OWB; t = t / OWB;
    let oh = t % OH;
    let n = t / OH;
    let co0 = cob * ${CB};
    let ow0 = owb * ${PX};
    ${px.flatMap((j) => cv.map((v) => `var ${acc(j, v)} = vec4<f32>(0.0);`)).join(" ")}
    for (var kh = 0; kh < KH; kh = kh + 1) {
      let ih = oh * SH + kh - PT;
      if (ih < 0 || ih >= H) { continue; }
      let xRow = (n * H + ih) * W;
      for (var kw = 0; kw < KW; kw = kw + 1) {
        ${px.map(col).join("")}
        let wb = (kh * KW + kw) * CIN * COUT + co0;
        for (var ci = 0; ci < CIN; ci = ci + 1) {
          let wi = wb + ci * COUT;
          ${
    cv.map((v) => `let w${v} = ${load4("w", `wi + ${4 * v}`, `co0 + ${4 * v}`, exact, "COUT")};`).join("\n          ")
  }
          ${px.map((j) => `let x${j} = select(0.0, x[xb${j} + ci], ok${j});`).join(" ")}
          ${px.flatMap((j) => cv.map((v) => `${acc(j, v)} = ${acc(j, v)} + x${j} * w${v};`)).join("\n          ")}
        }
      }
    }
    ${
    cv.map((v) => {
      const post = [bias ? `${load4("bias", `co0 + ${4 * v}`, `co0 + ${4 * v}`, exact, "COUT")}` : ""];
      return px.map((j) => {
        let e = acc(j, v);
        if (bias) e = `(${e} + ${post[0]})`;
        if (activation === "relu") e = `max(${e}, vec4<f32>(0.0))`;
        return `let r${j}_${v} = ${e};`;
      }).join(" ");
    }).join("\n    ")
  }
    let ob = ((n * OH + oh) * OW + ow0) * COUT + co0;
    ${
    px.map((j) => `if (ow0 + ${j} < OW) {${storeGroups(cv, `ob + ${j} * COUT`, "co0", "COUT", (v) => `r${j}_${v}`)}}`)
      .join("\n    ")
  }
  }`;
  const key = `appaunet_conv_${exact}_${bias ? 1 : 0}_${activation}_${PX}x${CV}`;
  const inputs = bias ? [x, filter, bias] : [x, filter];
  return runProgram(
    backend,
    convProgram(key, [N, OH, OW, COUT], names, total, code),
    inputs,
    "float32",
    dims(info, total),
  );
}

/** Forward register tile: output columns × vec4 groups of output channels per invocation. */
const FWD_TILE = envTile("APPAUNET_FWD_TILE");

/**
 * dx for NHWC: dy `[N,OH,OW,COUT]`, filter `[KH,KW,CIN,COUT]` → `[N,H,W,CIN]`. Each invocation computes PX
 * input columns of one stride phase (iw = phase + SW·(PX·b + j)), all hit by the same taps, × 4·CV input
 * channels, looping over output channels.
 *
 * @param backend the webgpu backend
 * @param dy output gradient
 * @param filter weights
 * @param info convolution geometry
 * @returns the input gradient
 */
export function conv2dBackpropInputWebGpu(
  backend: WebGpuBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CIN, strideWidth: SW } = info;
  // Stride 1 (every 3×3 conv of S): no integer divisions per tap (lavapipe runs them lane by lane).
  const unit = info.strideHeight === 1 && SW === 1;
  // With ≤ 4 input channels (the image ⊕ mask input of D, the pyramid inputs) one vec4 of channels is enough.
  const [PX, CV] = CIN <= 4 ? [DX_TILE[0], 1] : DX_TILE;
  const CB = 4 * CV;
  const CIB = Math.ceil(CIN / CB);
  const perPhase = Math.ceil(W / SW);
  const IWB = Math.ceil(perPhase / PX);
  const total = N * H * SW * IWB * CIB;
  const exact = CIN % CB === 0;
  const px = [...Array(PX).keys()], cv = [...Array(CV).keys()];
  const acc = (j: number, v: number) => `a${j}_${v}`;
  const wload = (v: number) => load4("w", `wi + ${4 * v}`, `ci0 + ${4 * v}`, exact, "CIN");
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    var t = index;
    let CIB = (CIN + ${CB - 1}) / ${CB};
    let cib = t % CIB; t = t / CIB;
    let ib = t % E1; t = t / E1;
    let phase = t % SW; t = t / SW;
    let ih = t % H;
    let n = t / H;
    let ci0 = cib * ${CB};
    let iwBase = phase + SW * ib * ${PX};
    if (iwBase >= W) { return; }
    ${px.flatMap((j) => cv.map((v) => `var ${acc(j, v)} = vec4<f32>(0.0);`)).join(" ")}
    for (var kh = 0; kh < KH; kh = kh + 1) {
      let th = ih + PT - kh;
      ${unit ? "if (th < 0) { continue; }" : "if (th < 0 || th % SH != 0) { continue; }"}
      let oh = ${unit ? "th" : "th / SH"};
      if (oh >= OH) { continue; }
      let dRow = (n * OH + oh) * OW;
      for (var kw = 0; kw < KW; kw = kw + 1) {
        let twb = iwBase + PL - kw;
        ${unit ? "" : "if ((twb % SW + SW) % SW != 0) { continue; }"}
        ${
    px.map((j) => `
        let tw${j} = twb + ${j} * SW;
        let ow${j} = ${unit ? `tw${j}` : `tw${j} / SW`};
        let ok${j} = tw${j} >= 0 && ow${j} < OW && iwBase + ${j} * SW < W;
        let db${j} = select(0, (dRow + ow${j}) * COUT, ok${j});`).join("")
  }
        let wb = (kh * KW + kw) * COUT * CIN + ci0;
        for (var co = 0; co < COUT; co = co + 1) {
          let wi = wb + co * CIN;
          ${cv.map((v) => `let w${v} = ${wload(v)};`).join("\n          ")}
          ${px.map((j) => `let d${j} = select(0.0, dy[db${j} + co], ok${j});`).join(" ")}
          ${px.flatMap((j) => cv.map((v) => `${acc(j, v)} = ${acc(j, v)} + d${j} * w${v};`)).join("\n          ")}
        }
      }
    }
    ${
    px.map((j) =>
      `{ let iw = iwBase + ${j} * SW; if (iw < W) { let ob = ((n * H + ih) * W + iw) * CIN + ci0; ${
        storeGroups(cv, "ob", "ci0", "CIN", (v) => acc(j, v))
      } } }`
    ).join("\n    ")
  }
  }`;
  const key = `appaunet_dx_${exact}_${unit}_${PX}x${CV}`;
  // Weights as [KH, KW, COUT, CIN] so the input channels of one tap and output channel are contiguous.
  const wT = transposeLastTwo(backend, filter, info);
  const out = runProgram(
    backend,
    convProgram(key, [N, H, W, CIN], ["dy", "w"], total, code),
    [dy, wT],
    "float32",
    dims(info, total, IWB),
  );
  backend.disposeData(wT.dataId);
  return out;
}

/** `[KH, KW, CIN, COUT]` → `[KH, KW, COUT, CIN]`. */
function transposeLastTwo(backend: WebGpuBackendLike, filter: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const { filterHeight: KH, filterWidth: KW, inChannels: CIN, outChannels: COUT } = info;
  const size = KH * KW * CIN * COUT;
  const code = () => `
  fn main(index : i32) {
    if (index >= E0) { return; }
    let ci = index % CIN;
    let t = index / CIN;
    let co = t % COUT;
    let tap = t / COUT;
    result[index] = w[(tap * CIN + ci) * COUT + co];
  }`;
  return runProgram(
    backend,
    convProgram("appaunet_wT", [KH, KW, COUT, CIN], ["w"], size, code),
    [filter],
    "float32",
    dims(info, size),
  );
}

/** Data-gradient register tile: input columns × vec4 groups of input channels per invocation. */
const DX_TILE = envTile("APPAUNET_DX_TILE");
