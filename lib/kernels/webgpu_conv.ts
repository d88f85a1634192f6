/**
 * WGSL convolution kernels for the tfjs `webgpu` backend, tuned for register tiling without workgroup memory
 * (what Mesa's lavapipe, a CPU, runs fastest; no barriers) and with every shape baked in as a constant so the
 * shader compiler can unroll and fold index arithmetic. Shapes are fixed during training, so each layer
 * compiles once.
 *
 * - `Conv2DBackpropFilter`: implicit GEMM dW = im2col(x)ᵀ·dy; each invocation owns a 4 (in) × 4 (out) channel
 *   tile of one filter tap over a chunk of output rows (split-K), then a second pass sums the chunks. The
 *   stock kernel loops over the whole batch × image serially for every weight.
 * - `Conv2D` / `FusedConv2D` (bias, linear/relu): each invocation computes 4 output columns × 4 output
 *   channels.
 * - `Conv2DBackpropInput` (the data gradient): each invocation computes 4 input columns (of one stride
 *   phase) × 4 input channels, looping over taps and output channels in vec4 steps.
 *
 * Only NHWC, dilation 1 and float32 take these paths; anything else goes to the stock kernel.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { backend_util } from "@tensorflow/tfjs";

/** The part of tfjs's WebGPU program interface these kernels use. */
interface Program {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  size?: boolean;
  uniforms?: string;
  getUserCode(): string;
}

/** The part of the tfjs WebGPUBackend these kernels use. */
interface WebGpuBackendLike {
  runWebGPUProgram(p: Program, inputs: tf.TensorInfo[], dtype: string, uniforms?: unknown[]): tf.TensorInfo;
  disposeData(id: object): void;
}

const WG = 64;

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

function flatProgram(key: string, outputShape: number[], names: string[], invocations: number, code: string): Program {
  return {
    outputShape,
    shaderKey: key,
    uniforms: "d0 : vec4<i32>, d1 : vec4<i32>, d2 : vec4<i32>, d3 : vec4<i32>,",
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(invocations / WG), 1, 1],
    variableNames: names,
    workgroupSize: [WG, 1, 1],
    // The auto bind-group layout only holds bindings the shader uses, and tfjs always binds its uniforms.
    getUserCode: () => code.replace("fn main(index : i32) {", `fn main(index : i32) {${DIMS}`),
  };
}

/** A vec4 of 4 scalar loads of `buf` at `base + 0..3`, lanes ≥ `limit - c0` replaced by 0 when `tail`. */
function load4(buf: string, base: string, c0: string, divisible: boolean, limit: string): string {
  if (divisible) return `vec4<f32>(${buf}[${base}], ${buf}[${base} + 1], ${buf}[${base} + 2], ${buf}[${base} + 3])`;
  const l = (k: number) => `select(0.0, ${buf}[${base} + ${k}], ${c0} + ${k} < ${limit})`;
  return `vec4<f32>(${l(0)}, ${l(1)}, ${l(2)}, ${l(3)})`;
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
export function conv2dBackpropFilterWebGpu(backend: WebGpuBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CIN, outHeight: OH, outWidth: OW, outChannels: COUT } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const PT = info.padInfo.top, PL = info.padInfo.left;
  const CIB = Math.ceil(CIN / 4), COB = Math.ceil(COUT / 4);
  const tiles = KH * KW * CIB * COB;
  const rows = N * OH;
  // Split the N·OH output rows into chunks so that there are enough invocations to fill the device.
  const want = Math.max(1, Math.ceil(512 / tiles));
  const chunks = Math.min(rows, want);
  const rowsPer = Math.ceil(rows / chunks);
  const S = Math.ceil(rows / rowsPer);
  const size = KH * KW * CIN * COUT;
  const ciOk = (k: number) => (CIN % 4 === 0 ? "true" : `ci0 + ${k} < CIN`);
  const code = `
  fn main(index : i32) {
    if (index >= E0) { return; }
    var t = index;
    let cob = t % ((COUT + 3) / 4); t = t / ((COUT + 3) / 4);
    let cib = t % ((CIN + 3) / 4); t = t / ((CIN + 3) / 4);
    let kw = t % KW; t = t / KW;
    let kh = t % KH;
    let s = t / KH;
    let co0 = cob * 4;
    let ci0 = cib * 4;
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    // Valid output columns for this tap: 0 <= ow*SW + kw - PL < W.
    let owMin = max(0, (PL - kw + (SW - 1)) / SW);
    let owMax = min((OW - 1), ((W - 1 + PL) - kw) / SW);
    let r1 = min((N * OH), (s + 1) * E1);
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
        let d = ${load4("dy", "db", "co0", COUT % 4 === 0, "COUT")};
        a0 = a0 + x[xb] * d;
        ${CIN > 1 || CIN % 4 === 0 ? `if (${ciOk(1)}) { a1 = a1 + x[xb + 1] * d; }` : ""}
        ${CIN > 2 || CIN % 4 === 0 ? `if (${ciOk(2)}) { a2 = a2 + x[xb + 2] * d; }` : ""}
        ${CIN > 3 || CIN % 4 === 0 ? `if (${ciOk(3)}) { a3 = a3 + x[xb + 3] * d; }` : ""}
      }
    }
    let out0 = ${S > 1 ? "s * E2 + " : ""}((kh * KW + kw) * CIN + ci0) * COUT + co0;
    let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
    for (var i = 0; i < 4; i = i + 1) {
      if (ci0 + i >= CIN) { break; }
      let o = out0 + i * COUT;
      for (var j = 0; j < 4; j = j + 1) {
        if (co0 + j < COUT) { result[o + j] = acc[i][j]; }
      }
    }
  }`;
  const key = `appaunet_dw_${Math.min(CIN, 4)}_${CIN % 4 === 0}_${COUT % 4 === 0}_${S > 1}`;
  const partialShape = S > 1 ? [S, size] : [KH, KW, CIN, COUT];
  const partial = backend.runWebGPUProgram(flatProgram(key, partialShape, ["x", "dy"], tiles * S, code), [x, dy], "float32", dims(info, tiles * S, rowsPer, size));
  if (S === 1) return partial;
  const sum = `
  fn main(index : i32) {
    if (index >= E2) { return; }
    var acc = 0.0;
    for (var s = 0; s < E1; s = s + 1) { acc = acc + partial[s * E2 + index]; }
    result[index] = acc;
  }`;
  const out = backend.runWebGPUProgram(
    flatProgram("appaunet_dw_sum", [KH, KW, CIN, COUT], ["partial"], size, sum),
    [partial],
    "float32",
    dims(info, 0, S, size),
  );
  backend.disposeData(partial.dataId);
  return out;
}

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
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CIN, outHeight: OH, outWidth: OW, outChannels: COUT } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const PT = info.padInfo.top, PL = info.padInfo.left;
  const OWB = Math.ceil(OW / 4), COB = Math.ceil(COUT / 4);
  const total = N * OH * OWB * COB;
  const names = bias ? ["x", "w", "bias"] : ["x", "w"];
  const col = (j: number) => `
        let iw${j} = (ow0 + ${j}) * SW + kw - PL;
        let ok${j} = iw${j} >= 0 && iw${j} < W && ow0 + ${j} < OW;
        let xb${j} = select(0, (xRow + iw${j}) * CIN, ok${j});`;
  const code = `
  fn main(index : i32) {
    if (index >= E0) { return; }
    var t = index;
    let cob = t % ((COUT + 3) / 4); t = t / ((COUT + 3) / 4);
    let owb = t % ((OW + 3) / 4); t = t / ((OW + 3) / 4);
    let oh = t % OH;
    let n = t / OH;
    let co0 = cob * 4;
    let ow0 = owb * 4;
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    for (var kh = 0; kh < KH; kh = kh + 1) {
      let ih = oh * SH + kh - PT;
      if (ih < 0 || ih >= H) { continue; }
      let xRow = (n * H + ih) * W;
      for (var kw = 0; kw < KW; kw = kw + 1) {
        ${col(0)}${col(1)}${col(2)}${col(3)}
        let wb = (kh * KW + kw) * CIN * COUT + co0;
        for (var ci = 0; ci < CIN; ci = ci + 1) {
          let wi = wb + ci * COUT;
          let wv = ${load4("w", "wi", "co0", COUT % 4 === 0, "COUT")};
          a0 = a0 + select(0.0, x[xb0 + ci], ok0) * wv;
          a1 = a1 + select(0.0, x[xb1 + ci], ok1) * wv;
          a2 = a2 + select(0.0, x[xb2 + ci], ok2) * wv;
          a3 = a3 + select(0.0, x[xb3 + ci], ok3) * wv;
        }
      }
    }
    ${bias ? `let bv = ${load4("bias", "co0", "co0", COUT % 4 === 0, "COUT")}; a0 = a0 + bv; a1 = a1 + bv; a2 = a2 + bv; a3 = a3 + bv;` : ""}
    ${activation === "relu" ? "a0 = max(a0, vec4<f32>(0.0)); a1 = max(a1, vec4<f32>(0.0)); a2 = max(a2, vec4<f32>(0.0)); a3 = max(a3, vec4<f32>(0.0));" : ""}
    let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
    let ob = ((n * OH + oh) * OW + ow0) * COUT + co0;
    for (var j = 0; j < 4; j = j + 1) {
      if (ow0 + j >= OW) { break; }
      for (var c = 0; c < 4; c = c + 1) {
        if (co0 + c < COUT) { result[ob + j * COUT + c] = acc[j][c]; }
      }
    }
  }`;
  const key = `appaunet_conv_${COUT % 4 === 0}_${bias ? 1 : 0}_${activation}`;
  const inputs = bias ? [x, filter, bias] : [x, filter];
  return backend.runWebGPUProgram(flatProgram(key, [N, OH, OW, COUT], names, total, code), inputs, "float32", dims(info, total));
}

/**
 * dx for NHWC: dy `[N,OH,OW,COUT]`, filter `[KH,KW,CIN,COUT]` → `[N,H,W,CIN]`.
 * Each invocation computes 4 input columns of one stride phase (iw = phase + SW·(4b + j)) × 4 input channels.
 *
 * @param backend the webgpu backend
 * @param dy output gradient
 * @param filter weights
 * @param info convolution geometry
 * @returns the input gradient
 */
export function conv2dBackpropInputWebGpu(backend: WebGpuBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CIN, outHeight: OH, outWidth: OW, outChannels: COUT } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const PT = info.padInfo.top, PL = info.padInfo.left;
  const CIB = Math.ceil(CIN / 4);
  const perPhase = Math.ceil(W / SW); // columns in one stride phase (upper bound)
  const IWB = Math.ceil(perPhase / 4);
  const total = N * H * SW * IWB * CIB;
  const COUT4 = Math.floor(COUT / 4) * 4;
  const dot4 = (j: number) => `
            let dv${j} = select(vec4<f32>(0.0), vec4<f32>(dy[db${j} + co], dy[db${j} + co + 1], dy[db${j} + co + 2], dy[db${j} + co + 3]), ok${j});
            a${j} = a${j} + vec4<f32>(dot(dv${j}, w0), dot(dv${j}, w1), dot(dv${j}, w2), dot(dv${j}, w3));`;
  const tail = (j: number) => `
            let dv${j} = select(0.0, dy[db${j} + co], ok${j});
            a${j} = a${j} + dv${j} * wv;`;
  const wRow = (i: number) => `(wb + ${i} * COUT)`;
  const colSetup = (j: number) => `
        let iw${j} = phase + SW * (ib * 4 + ${j});
        let tw${j} = iw${j} + PL - kw;
        let ow${j} = tw${j} / SW;
        let ok${j} = iw${j} < W && tw${j} >= 0 && tw${j} % SW == 0 && ow${j} < OW;
        let db${j} = select(0, (dRow + ow${j}) * COUT, ok${j});`;
  const ciGuard = (i: number) => (CIN % 4 === 0 ? "true" : `ci0 + ${i} < CIN`);
  const code = `
  fn main(index : i32) {
    if (index >= E0) { return; }
    var t = index;
    let cib = t % ((CIN + 3) / 4); t = t / ((CIN + 3) / 4);
    let ib = t % E1; t = t / E1;
    let phase = t % SW; t = t / SW;
    let ih = t % H;
    let n = t / H;
    let ci0 = cib * 4;
    if (phase + SW * ib * 4 >= W) { return; }
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    for (var kh = 0; kh < KH; kh = kh + 1) {
      let th = ih + PT - kh;
      if (th < 0 || th % SH != 0) { continue; }
      let oh = th / SH;
      if (oh >= OH) { continue; }
      let dRow = (n * OH + oh) * OW;
      for (var kw = 0; kw < KW; kw = kw + 1) {
        ${colSetup(0)}${colSetup(1)}${colSetup(2)}${colSetup(3)}
        if (!(ok0 || ok1 || ok2 || ok3)) { continue; }
        let wb = ((kh * KW + kw) * CIN + ci0) * COUT;
        ${
    COUT4 > 0
      ? `for (var co = 0; co < (COUT / 4 * 4); co = co + 4) {
          let w0 = vec4<f32>(w[wb + co], w[wb + co + 1], w[wb + co + 2], w[wb + co + 3]);
          let w1 = select(vec4<f32>(0.0), vec4<f32>(w[${wRow(1)} + co], w[${wRow(1)} + co + 1], w[${wRow(1)} + co + 2], w[${wRow(1)} + co + 3]), ${ciGuard(1)});
          let w2 = select(vec4<f32>(0.0), vec4<f32>(w[${wRow(2)} + co], w[${wRow(2)} + co + 1], w[${wRow(2)} + co + 2], w[${wRow(2)} + co + 3]), ${ciGuard(2)});
          let w3 = select(vec4<f32>(0.0), vec4<f32>(w[${wRow(3)} + co], w[${wRow(3)} + co + 1], w[${wRow(3)} + co + 2], w[${wRow(3)} + co + 3]), ${ciGuard(3)});
          ${dot4(0)}${dot4(1)}${dot4(2)}${dot4(3)}
        }`
      : ""
  }
        ${
    COUT4 < COUT
      ? `for (var co = (COUT / 4 * 4); co < COUT; co = co + 1) {
          let wv = vec4<f32>(w[wb + co], select(0.0, w[${wRow(1)} + co], ${ciGuard(1)}),
                             select(0.0, w[${wRow(2)} + co], ${ciGuard(2)}), select(0.0, w[${wRow(3)} + co], ${ciGuard(3)}));
          ${tail(0)}${tail(1)}${tail(2)}${tail(3)}
        }`
      : ""
  }
      }
    }
    let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
    for (var j = 0; j < 4; j = j + 1) {
      let iw = phase + SW * (ib * 4 + j);
      if (iw >= W) { break; }
      let ob = ((n * H + ih) * W + iw) * CIN + ci0;
      for (var c = 0; c < 4; c = c + 1) {
        if (ci0 + c < CIN) { result[ob + c] = acc[j][c]; }
      }
    }
  }`;
  const key = `appaunet_dx_${CIN % 4 === 0}_${COUT >= 4}_${COUT % 4 !== 0}`;
  return backend.runWebGPUProgram(flatProgram(key, [N, H, W, CIN], ["dy", "w"], total, code), [dy, filter], "float32", dims(info, total, IWB));
}
