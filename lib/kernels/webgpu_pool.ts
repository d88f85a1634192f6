/**
 * 2×2, stride-2 max pooling (the U-Net encoder's downsampling) and its gradient for the tfjs `webgpu` backend, NHWC.
 * Windows do not overlap, so one invocation handles one window and 4 channels: the forward reads 4 `vec4`s and writes
 * one; the gradient re-finds each window's maximum in `x` and writes dy there and 0 elsewhere (tfjs's own gradient
 * first writes an int32 map of positions, then has every input element search the windows that contain it).
 *
 * Ties: like tfjs-webgpu's kernel, the **last** maximum in window order (row-major) receives the gradient
 * (tfjs's cpu backend picks the first; both are valid subgradients).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { backend_util } from "@tensorflow/tfjs";
import { flatProgram, runProgram, vec4Buffers, type WebGpuBackendLike } from "./webgpu_program.ts";

const UNIFORMS = "p0 : vec4<i32>,";
const PRELUDE = "\n    let N = uniforms.p0.x; let H = uniforms.p0.y; let W = uniforms.p0.z; let C = uniforms.p0.w;" +
  " let OH = H / 2; let OW = W / 2; let CQ = C / 4;";

/**
 * Whether a pooling with these attributes is a 2×2, stride-2 window over even-sized NHWC input (where "same" and
 * "valid" padding agree), which the kernels here handle.
 *
 * @param xShape input shape
 * @param attrs the kernel's `filterSize`, `strides`, `pad`, `dimRoundingMode`
 * @returns true when {@linkcode maxPool2x2WebGpu} / {@linkcode maxPoolGrad2x2WebGpu} apply
 */
export function isMaxPool2x2(xShape: number[], attrs: Record<string, unknown>): boolean {
  if (xShape.length !== 4 || xShape[3] % 4 !== 0) return false;
  const info = backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as "same" | "valid",
    attrs.dimRoundingMode as "floor" | undefined,
  );
  return info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2 &&
    info.inHeight % 2 === 0 && info.inWidth % 2 === 0 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
    info.outHeight === info.inHeight / 2 && info.outWidth === info.inWidth / 2;
}

const WINDOW = `
    let cq = index % CQ;
    var t = index / CQ;
    let ow = t % OW; t = t / OW;
    let oh = t % OH;
    let n = t / OH;
    let b00 = ((n * H + 2 * oh) * W + 2 * ow) * CQ + cq;
    let b01 = b00 + CQ;
    let b10 = b00 + W * CQ;
    let b11 = b10 + CQ;`;

function shapeUniform(shape: number[]) {
  return [{ type: "int32", data: shape }];
}

/**
 * Max pooling, 2×2 windows, stride 2 (channel count a multiple of 4).
 *
 * @param backend the webgpu backend
 * @param x `[N, H, W, C]`
 * @returns `[N, H/2, W/2, C]`
 */
export function maxPool2x2WebGpu(backend: WebGpuBackendLike, x: tf.TensorInfo): tf.TensorInfo {
  const [N, H, W, C] = x.shape;
  const size = N * (H / 2) * (W / 2) * C / 4;
  const code = () => `
  fn main(index : i32) {
    if (index >= N * OH * OW * CQ) { return; }${WINDOW}
    result[index] = max(max(x[b00], x[b01]), max(x[b10], x[b11]));
  }`;
  return runProgram(
    backend,
    flatProgram("appaunet_maxpool2", [N, H / 2, W / 2, C], ["x"], size, code, UNIFORMS, PRELUDE, vec4Buffers(1)),
    [x],
    "float32",
    shapeUniform(x.shape),
  );
}

/**
 * Gradient of {@linkcode maxPool2x2WebGpu}: dy goes to the (last, in row-major window order) maximum of each window.
 *
 * @param backend the webgpu backend
 * @param dy `[N, H/2, W/2, C]`
 * @param x the pooled input `[N, H, W, C]`
 * @returns dx `[N, H, W, C]`
 */
export function maxPoolGrad2x2WebGpu(backend: WebGpuBackendLike, dy: tf.TensorInfo, x: tf.TensorInfo): tf.TensorInfo {
  const [N, H, W, C] = x.shape;
  const size = N * (H / 2) * (W / 2) * C / 4;
  const code = () => `
  fn main(index : i32) {
    if (index >= N * OH * OW * CQ) { return; }${WINDOW}
    let x00 = x[b00]; let x01 = x[b01]; let x10 = x[b10]; let x11 = x[b11];
    // Position 0..3 of the last maximum, per channel (value >= running max moves it).
    let g1 = x01 >= x00;
    let m1 = select(x00, x01, g1);
    let p1 = select(vec4<i32>(0), vec4<i32>(1), g1);
    let g2 = x10 >= m1;
    let m2 = select(m1, x10, g2);
    let p2 = select(p1, vec4<i32>(2), g2);
    let p3 = select(p2, vec4<i32>(3), x11 >= m2);
    let d = dy[index];
    let z = vec4<f32>(0.0);
    result[b00] = select(z, d, p3 == vec4<i32>(0));
    result[b01] = select(z, d, p3 == vec4<i32>(1));
    result[b10] = select(z, d, p3 == vec4<i32>(2));
    result[b11] = select(z, d, p3 == vec4<i32>(3));
  }`;
  return runProgram(
    backend,
    flatProgram("appaunet_maxpool2_grad", [N, H, W, C], ["dy", "x"], size, code, UNIFORMS, PRELUDE, vec4Buffers(2)),
    [dy, x],
    "float32",
    shapeUniform(x.shape),
  );
}
