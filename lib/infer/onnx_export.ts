/**
 * ONNX export (`export --format onnx`): one graph from a float32 image at the model's size to the lung probability
 * map and the calibrated class probabilities, with the normalisation inside (unit or per-image z-score), the
 * classifier on image ⊕ S(x) (or on the image alone), and the model's metadata as ONNX metadata properties. Opset 17,
 * NCHW. Serialised with npm `onnx-proto` (the ONNX protobuf schema, compiled with protobufjs); checked in CI against
 * ONNX Runtime (`onnxruntime-node`).
 *
 * Layer mapping (tfjs layers → ONNX): Conv2D → Conv (TensorFlow's "same" padding as explicit pads for the fixed input
 * size), Conv2DTranspose (kernel = stride) → ConvTranspose, BatchNormalization (inference) → BatchNormalization,
 * ReLU / LeakyReLU / Activation → Relu / LeakyRelu / Sigmoid / Tanh / Softmax, Average/MaxPooling2D → AveragePool /
 * MaxPool, UpSampling2D → Resize (tfjs's resize has `alignCorners` and `halfPixelCenters` off: ONNX's "asymmetric"
 * coordinates), Concatenate / Add / Multiply → Concat / Add / Mul, GlobalAveragePooling2D → GlobalAveragePool +
 * Flatten, Dense → Gemm, Dropout → nothing. Any other layer is refused by name. CLAHE cannot be expressed in the graph:
 * a model trained with it is refused.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import onnxProto from "onnx-proto";
import { type OpenedModel, openModel } from "../checkpoint/open_model.ts";
import { APPAUNET_VERSION } from "../checkpoint/version.ts";
import { replaceFolderAtomically, writeFileSynced } from "../io/fs.ts";
import { refuseOwnSource } from "./export.ts";

// deno-lint-ignore no-explicit-any
const { onnx } = onnxProto as any;
const FLOAT = 1, INT64 = 7;

/** Options of {@linkcode exportOnnx}. */
export interface OnnxExportOptions {
  /** A checkpoint or exported model folder, or `"pretrained"`. */
  model: string;
  /** The folder to write `model.onnx` into (built beside and swapped in whole). */
  out: string;
  /** Replace an earlier export in `out`. Default `false`. */
  overwrite?: boolean;
}

/** What {@linkcode exportOnnx} wrote. */
export interface OnnxExportResult {
  /** The `model.onnx` path. */
  file: string;
  /** Input name and shape (`N` is free). */
  input: { name: string; shape: (number | string)[] };
  /** Output names and shapes. */
  outputs: { name: string; shape: (number | string)[] }[];
  /** The metadata properties written. */
  metadata: Record<string, string>;
}

/** A value in the graph: its name, channels and spatial size (NCHW). */
interface Edge {
  name: string;
  c: number;
  h: number;
  w: number;
}

/** A graph under construction. */
class Graph {
  nodes: unknown[] = [];
  initializers: unknown[] = [];
  private n = 0;

  fresh(hint: string): string {
    return `${hint}_${this.n++}`;
  }

  constant(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push({
      name,
      dims,
      dataType: FLOAT,
      rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice(),
    });
    return name;
  }

  ints(name: string, values: number[]): string {
    const b = new BigInt64Array(values.map(BigInt));
    this.initializers.push({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(b.buffer) });
    return name;
  }

  node(opType: string, inputs: string[], attrs: Record<string, number | number[] | string> = {}, hint = opType) {
    const out = this.fresh(hint);
    const attribute = Object.entries(attrs).map(([name, v]) =>
      typeof v === "string"
        ? { name, type: 3, s: new TextEncoder().encode(v) }
        : Array.isArray(v)
        ? { name, type: 7, ints: v }
        : Number.isInteger(v) && name !== "alpha" && name !== "epsilon"
        ? { name, type: 2, i: v }
        : { name, type: 1, f: v }
    );
    this.nodes.push({ opType, input: inputs, output: [out], name: out, attribute });
    return out;
  }
}

/** TensorFlow's "same" padding for one spatial axis: [before, after] and the output size. */
function samePad(size: number, k: number, s: number, d: number): { pads: [number, number]; out: number } {
  const eff = (k - 1) * d + 1;
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + eff - size, 0);
  return { pads: [Math.floor(total / 2), total - Math.floor(total / 2)], out };
}

async function weightsOf(layer: tf.layers.Layer): Promise<Float32Array[]> {
  return await Promise.all(layer.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

/** [kh, kw, in, out] → [out, in, kh, kw] (or any 4-D permutation to [3, 2, 0, 1]). */
function toOihw(v: Float32Array, [kh, kw, a, b]: number[]): Float32Array {
  const out = new Float32Array(v.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < a; i++) {
        for (let o = 0; o < b; o++) out[((o * a + i) * kh + y) * kw + x] = v[((y * kw + x) * a + i) * b + o];
      }
    }
  }
  return out;
}

function activation(g: Graph, x: string, name: string, where: string): string {
  switch (name) {
    case "linear":
      return x;
    case "relu":
      return g.node("Relu", [x]);
    case "sigmoid":
      return g.node("Sigmoid", [x]);
    case "tanh":
      return g.node("Tanh", [x]);
    case "softmax":
      return g.node("Softmax", [x], { axis: 1 });
    default:
      throw new Error(`export --format onnx: ${where}: activation "${name}" has no ONNX mapping here`);
  }
}

interface LayerConfig {
  className: string;
  name?: string;
  config: Record<string, unknown>;
  inboundNodes: unknown[][][];
}

/** Appends one tfjs LayersModel (by its topology and weights) to the graph; returns its first output. */
async function appendNet(g: Graph, net: tf.LayersModel, inputs: Edge[], prefix: string): Promise<Edge> {
  // deno-lint-ignore no-explicit-any
  const cfg = (net as any).getConfig() as {
    layers: LayerConfig[];
    inputLayers: [string, number, number][];
    outputLayers: [string, number, number][];
  };
  const t = new Map<string, Edge>();
  cfg.inputLayers.forEach(([name], i) => t.set(name, inputs[i]));
  for (const l of cfg.layers) {
    const name = (l.config.name ?? l.name) as string;
    if (l.className === "InputLayer") continue;
    const ins = (l.inboundNodes[0] ?? []).map((n) => {
      const src = t.get(n[0] as string);
      if (!src) throw new Error(`export --format onnx: ${prefix}${name}: input ${n[0]} not built (unsupported graph)`);
      return src;
    });
    const x = ins[0];
    const c = l.config;
    const where = `${prefix}${name} (${l.className})`;
    const layer = net.getLayer(name);
    let y: Edge;
    switch (l.className) {
      case "Conv2D": {
        const [kernel, bias] = await weightsOf(layer);
        const [kh, kw] = c.kernelSize as number[];
        const [sh, sw] = c.strides as number[];
        const [dh, dw] = (c.dilationRate as number[] | undefined) ?? [1, 1];
        const filters = c.filters as number;
        let pads = [0, 0, 0, 0], oh: number, ow: number;
        if (c.padding === "same") {
          const ph = samePad(x.h, kh, sh, dh), pw = samePad(x.w, kw, sw, dw);
          pads = [ph.pads[0], pw.pads[0], ph.pads[1], pw.pads[1]];
          oh = ph.out, ow = pw.out;
        } else if (c.padding === "valid") {
          oh = Math.floor((x.h - ((kh - 1) * dh + 1)) / sh) + 1;
          ow = Math.floor((x.w - ((kw - 1) * dw + 1)) / sw) + 1;
        } else throw new Error(`export --format onnx: ${where}: padding "${c.padding}" is not supported`);
        const W = g.constant(`${prefix}${name}/kernel`, [filters, x.c, kh, kw], toOihw(kernel, [kh, kw, x.c, filters]));
        const inputsConv = [x.name, W];
        if (c.useBias) inputsConv.push(g.constant(`${prefix}${name}/bias`, [filters], bias));
        const conv = g.node("Conv", inputsConv, {
          kernel_shape: [kh, kw],
          strides: [sh, sw],
          dilations: [dh, dw],
          pads,
        }, "Conv");
        y = { name: activation(g, conv, String(c.activation ?? "linear"), where), c: filters, h: oh, w: ow };
        break;
      }
      case "Conv2DTranspose": {
        const [kernel, bias] = await weightsOf(layer);
        const [kh, kw] = c.kernelSize as number[];
        const [sh, sw] = c.strides as number[];
        if (kh !== sh || kw !== sw) {
          throw new Error(`export --format onnx: ${where}: only kernel = stride transposed convolutions are supported`);
        }
        const filters = c.filters as number;
        // tfjs: [kh, kw, out, in]; ONNX ConvTranspose: [in, out, kh, kw].
        const W = g.constant(`${prefix}${name}/kernel`, [x.c, filters, kh, kw], toOihw(kernel, [kh, kw, filters, x.c]));
        const inputsT = [x.name, W];
        if (c.useBias) inputsT.push(g.constant(`${prefix}${name}/bias`, [filters], bias));
        const up = g.node("ConvTranspose", inputsT, { kernel_shape: [kh, kw], strides: [sh, sw] }, "ConvTranspose");
        y = { name: activation(g, up, String(c.activation ?? "linear"), where), c: filters, h: x.h * sh, w: x.w * sw };
        break;
      }
      case "BatchNormalization": {
        const ws = await weightsOf(layer);
        let k = 0;
        const gamma = c.scale !== false ? ws[k++] : new Float32Array(x.c).fill(1);
        const beta = c.center !== false ? ws[k++] : new Float32Array(x.c);
        const mean = ws[k++], variance = ws[k++];
        const p = `${prefix}${name}`;
        y = {
          ...x,
          name: g.node("BatchNormalization", [
            x.name,
            g.constant(`${p}/gamma`, [x.c], gamma),
            g.constant(`${p}/beta`, [x.c], beta),
            g.constant(`${p}/mean`, [x.c], mean),
            g.constant(`${p}/variance`, [x.c], variance),
          ], { epsilon: c.epsilon as number }),
        };
        break;
      }
      case "ReLU":
        if (c.maxValue !== null && c.maxValue !== undefined) {
          throw new Error(`export --format onnx: ${where}: ReLU with max_value is not supported`);
        }
        y = { ...x, name: g.node("Relu", [x.name]) };
        break;
      case "LeakyReLU":
        y = { ...x, name: g.node("LeakyRelu", [x.name], { alpha: c.alpha as number }) };
        break;
      case "Activation":
        y = { ...x, name: activation(g, x.name, String(c.activation), where) };
        break;
      case "AveragePooling2D":
      case "MaxPooling2D": {
        const [ph, pw] = c.poolSize as number[];
        const [sh, sw] = (c.strides as number[] | null) ?? [ph, pw];
        if (c.padding !== "valid") throw new Error(`export --format onnx: ${where}: only "valid" pooling is supported`);
        y = {
          c: x.c,
          h: Math.floor((x.h - ph) / sh) + 1,
          w: Math.floor((x.w - pw) / sw) + 1,
          name: g.node(l.className === "MaxPooling2D" ? "MaxPool" : "AveragePool", [x.name], {
            kernel_shape: [ph, pw],
            strides: [sh, sw],
          }),
        };
        break;
      }
      case "UpSampling2D": {
        const [fh, fw] = c.size as number[];
        const mode = c.interpolation === "bilinear" ? "linear" : "nearest";
        const scales = g.constant(g.fresh(`${prefix}${name}/scales`), [4], Float32Array.from([1, 1, fh, fw]));
        y = {
          c: x.c,
          h: x.h * fh,
          w: x.w * fw,
          name: g.node("Resize", [x.name, "", scales], {
            mode,
            coordinate_transformation_mode: "asymmetric",
            ...(mode === "nearest" ? { nearest_mode: "floor" } : {}),
          }),
        };
        break;
      }
      case "Concatenate":
        if (c.axis !== -1 && c.axis !== 3) throw new Error(`export --format onnx: ${where}: only channel concat`);
        y = { ...x, c: ins.reduce((s, i) => s + i.c, 0), name: g.node("Concat", ins.map((i) => i.name), { axis: 1 }) };
        break;
      case "Add":
      case "Multiply": {
        let acc = x.name;
        for (const i of ins.slice(1)) acc = g.node(l.className === "Add" ? "Add" : "Mul", [acc, i.name]);
        y = { ...x, c: Math.max(...ins.map((i) => i.c)), name: acc };
        break;
      }
      case "GlobalAveragePooling2D":
        y = { c: x.c, h: 1, w: 1, name: g.node("Flatten", [g.node("GlobalAveragePool", [x.name])], { axis: 1 }) };
        break;
      case "Dropout":
        y = x;
        break;
      case "Dense": {
        const [kernel, bias] = await weightsOf(layer);
        const units = c.units as number;
        const gemmIn = [x.name, g.constant(`${prefix}${name}/kernel`, [x.c, units], kernel)];
        if (c.useBias) gemmIn.push(g.constant(`${prefix}${name}/bias`, [units], bias));
        y = {
          c: units,
          h: 1,
          w: 1,
          name: activation(g, g.node("Gemm", gemmIn), String(c.activation ?? "linear"), where),
        };
        break;
      }
      default:
        throw new Error(`export --format onnx: ${where}: layer type ${l.className} has no ONNX mapping here`);
    }
    t.set(name, y);
  }
  const out = t.get(cfg.outputLayers[0][0]);
  if (!out) throw new Error(`export --format onnx: ${prefix}: output ${cfg.outputLayers[0][0]} not built`);
  return out;
}

/** Builds the ONNX model of an opened model. */
async function buildGraph(m: OpenedModel): Promise<{ bytes: Uint8Array; result: Omit<OnnxExportResult, "file"> }> {
  const meta = m.metadata;
  if (meta.clahe) {
    throw new Error("export --format onnx: the model was trained with CLAHE, which the ONNX graph cannot express");
  }
  const size = meta.size, g = new Graph();
  const image: Edge = { name: "image", c: 1, h: size, w: size };
  let x = image;
  if (meta.normalize === "zscore") {
    // zScore (lib/data/normalize.ts): per image, population std, floored at 1e-6.
    const mean = g.node("ReduceMean", [image.name], { axes: [1, 2, 3], keepdims: 1 });
    const centred = g.node("Sub", [image.name, mean]);
    const variance = g.node("ReduceMean", [g.node("Mul", [centred, centred])], { axes: [1, 2, 3], keepdims: 1 });
    const std = g.node("Max", [g.node("Sqrt", [variance]), g.constant("zscore/floor", [], Float32Array.of(1e-6))]);
    x = { ...image, name: g.node("Div", [centred, std]) };
  }
  const outputs: { name: string; shape: (number | string)[] }[] = [];
  const graphOutputs: unknown[] = [];
  const declare = (name: string, from: string, shape: (number | string)[]) => {
    g.nodes.push({ opType: "Identity", input: [from], output: [name], name });
    outputs.push({ name, shape });
    graphOutputs.push(valueInfo(name, shape));
  };
  let lung: Edge | undefined;
  if (m.segmentor) {
    lung = await appendNet(g, m.segmentor, [x], "segmentor/");
    declare("lung", lung.name, ["N", 1, size, size]);
  }
  if (m.discriminator) {
    const onImage = meta.classifierInput ? meta.classifierInput === "image" : meta.mode === "cls";
    const dIn: Edge = onImage ? x : { ...x, c: 2, name: g.node("Concat", [x.name, lung!.name], { axis: 1 }) };
    const logits = await appendNet(g, m.discriminator, [dIn], "classifier/");
    const k = meta.classNames.length;
    let z = logits.name;
    if (!onImage) {
      z = g.node("Slice", [z, g.ints("slice/starts", [0]), g.ints("slice/ends", [k]), g.ints("slice/axes", [1])]);
    }
    const cal = meta.calibration;
    let probs: string;
    if (cal && k === 2 && cal.bias) {
      // Platt scaling (calibrate in lib/checkpoint/calibration.ts): p₁ = σ((z₁ − z₀) / T + b).
      const z0 = g.node("Slice", [z, g.ints("platt/s0", [0]), g.ints("platt/e0", [1]), g.ints("platt/axes", [1])]);
      const z1 = g.node("Slice", [z, g.ints("platt/s1", [1]), g.ints("platt/e1", [2]), "platt/axes"]);
      const d = g.node("Add", [
        g.node("Div", [g.node("Sub", [z1, z0]), g.constant("platt/temperature", [], Float32Array.of(cal.temperature))]),
        g.constant("platt/bias", [], Float32Array.of(cal.bias)),
      ]);
      const p1 = g.node("Sigmoid", [d]);
      const p0 = g.node("Sub", [g.constant("platt/one", [], Float32Array.of(1)), p1]);
      probs = g.node("Concat", [p0, p1], { axis: 1 });
    } else {
      const t = cal?.temperature ?? 1;
      const scaled = t === 1 ? z : g.node("Div", [z, g.constant("temperature", [], Float32Array.of(t))]);
      probs = g.node("Softmax", [scaled], { axis: 1 });
    }
    declare("probabilities", probs, ["N", k]);
  }
  const metadata: Record<string, string> = {
    format: "appaunet-onnx",
    appaunet_version: APPAUNET_VERSION,
    mode: meta.mode,
    size: String(size),
    input: `image: float32 [N, 1, ${size}, ${size}], values in [0, 1] (squash the X-ray to ${size}×${size})`,
    normalize: meta.normalize,
    class_names: JSON.stringify(meta.classNames),
    mask_threshold: String(meta.threshold),
    ...(meta.calibration?.threshold !== undefined ? { decision_threshold: String(meta.calibration.threshold) } : {}),
    ...(meta.calibration ? { calibration: JSON.stringify(meta.calibration) } : {}),
    outputs: outputs.map((o) => `${o.name} [${o.shape.join(", ")}]`).join("; "),
  };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "appaunet",
    producerVersion: APPAUNET_VERSION,
    modelVersion: 1,
    docString: "APPAU-Net lung segmentation and chest X-ray classification (appaunet)",
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: "appaunet",
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo("image", ["N", 1, size, size])],
      output: graphOutputs,
    },
  });
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    result: { input: { name: "image", shape: ["N", 1, size, size] }, outputs, metadata },
  };
}

function valueInfo(name: string, shape: (number | string)[]): unknown {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Exports a model as one ONNX graph (`<out>/model.onnx`): float32 image `[N, 1, size, size]` in [0, 1] → `lung`
 * `[N, 1, size, size]` (S's probabilities) and `probabilities` `[N, K]` (calibrated, as `predict` reports them).
 *
 * @example
 * ```ts
 * import { exportOnnx, initBackend } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const out = await Deno.makeTempDir();
 * const r = await exportOnnx({ model: "pretrained", out, overwrite: true });
 * assert.deepEqual(r.outputs.map((o) => o.name), ["lung", "probabilities"]);
 * assert.equal(r.metadata.class_names, '["normal","tb"]');
 * ```
 * @param opts the model and the output folder
 * @returns the file, its input and outputs, and the metadata written
 * @throws {Error} naming the layer for a model the mapping does not cover; for CLAHE models; for a non-empty `out`
 * without `overwrite`
 */
export async function exportOnnx(opts: OnnxExportOptions): Promise<OnnxExportResult> {
  const st = await Deno.stat(opts.out).catch(() => undefined);
  if (st && !st.isDirectory) throw new Error(`--out ${opts.out}: is a file, not a folder; choose a folder`);
  if (st && [...Deno.readDirSync(opts.out)].length && !opts.overwrite) {
    throw new Error(`--out ${opts.out}: the folder is not empty; choose a new folder or pass --overwrite`);
  }
  const m = await openModel(opts.model);
  try {
    await refuseOwnSource(opts.out, m.dir);
    const { bytes, result } = await buildGraph(m);
    await replaceFolderAtomically(opts.out, (tmp) => writeFileSynced(path.join(tmp, "model.onnx"), bytes));
    return { file: path.join(opts.out, "model.onnx"), ...result };
  } finally {
    m.dispose();
  }
}
