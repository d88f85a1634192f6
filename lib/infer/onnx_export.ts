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
import type { Calibration } from "../checkpoint/calibration.ts";
import { replaceFolderAtomically, writeFileSynced } from "../io/fs.ts";
import { refuseOwnSource } from "./export.ts";
import { type Edge, FLOAT, Graph, LAYER_BUILDERS } from "./onnx_layers.ts";

// deno-lint-ignore no-explicit-any
const { onnx } = onnxProto as any;

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
    const build = LAYER_BUILDERS[l.className];
    if (!build) throw new Error(`export --format onnx: ${where}: layer type ${l.className} has no ONNX mapping here`);
    const y = await build({ g, x, ins, c, layer, p: `${prefix}${name}`, where, className: l.className });
    t.set(name, y);
  }
  const out = t.get(cfg.outputLayers[0][0]);
  if (!out) throw new Error(`export --format onnx: ${prefix}: output ${cfg.outputLayers[0][0]} not built`);
  return out;
}

/** zScore (lib/data/normalize.ts) in the graph: per image, population std, floored at 1e-6. */
function appendZScore(g: Graph, image: Edge): Edge {
  const mean = g.node("ReduceMean", [image.name], { axes: [1, 2, 3], keepdims: 1 });
  const centred = g.node("Sub", [image.name, mean]);
  const variance = g.node("ReduceMean", [g.node("Mul", [centred, centred])], { axes: [1, 2, 3], keepdims: 1 });
  const std = g.node("Max", [g.node("Sqrt", [variance]), g.constant("zscore/floor", [], Float32Array.of(1e-6))]);
  return { ...image, name: g.node("Div", [centred, std]) };
}

/**
 * The class probabilities as `predict` reports them: the real classes' logits (D's fake class dropped), calibrated
 * as `calibrate` (lib/checkpoint/calibration.ts) does: Platt p₁ = σ((z₁ − z₀) / T + b) with two classes and a bias,
 * else softmax(z / T).
 */
function appendProbabilities(g: Graph, logits: string, k: number, fakeClass: boolean, cal?: Calibration): string {
  let z = logits;
  if (fakeClass) {
    z = g.node("Slice", [z, g.ints("slice/starts", [0]), g.ints("slice/ends", [k]), g.ints("slice/axes", [1])]);
  }
  if (cal && k === 2 && cal.bias) {
    const z0 = g.node("Slice", [z, g.ints("platt/s0", [0]), g.ints("platt/e0", [1]), g.ints("platt/axes", [1])]);
    const z1 = g.node("Slice", [z, g.ints("platt/s1", [1]), g.ints("platt/e1", [2]), "platt/axes"]);
    const d = g.node("Add", [
      g.node("Div", [g.node("Sub", [z1, z0]), g.constant("platt/temperature", [], Float32Array.of(cal.temperature))]),
      g.constant("platt/bias", [], Float32Array.of(cal.bias)),
    ]);
    const p1 = g.node("Sigmoid", [d]);
    const p0 = g.node("Sub", [g.constant("platt/one", [], Float32Array.of(1)), p1]);
    return g.node("Concat", [p0, p1], { axis: 1 });
  }
  const t = cal?.temperature ?? 1;
  const scaled = t === 1 ? z : g.node("Div", [z, g.constant("temperature", [], Float32Array.of(t))]);
  return g.node("Softmax", [scaled], { axis: 1 });
}

/** Builds the ONNX model of an opened model. */
async function buildGraph(m: OpenedModel): Promise<{ bytes: Uint8Array; result: Omit<OnnxExportResult, "file"> }> {
  const meta = m.metadata;
  if (meta.clahe) {
    throw new Error("export --format onnx: the model was trained with CLAHE, which the ONNX graph cannot express");
  }
  const size = meta.size, g = new Graph();
  const image: Edge = { name: "image", c: 1, h: size, w: size };
  const x = meta.normalize === "zscore" ? appendZScore(g, image) : image;
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
    const probs = appendProbabilities(g, logits.name, k, !onImage, meta.calibration);
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
  if (st && !st.isDirectory) throw new Error(`out (--out ${opts.out}): is a file, not a folder; choose a folder`);
  if (st && [...Deno.readDirSync(opts.out)].length && !opts.overwrite) {
    throw new Error(`out (--out ${opts.out}): the folder is not empty; choose a new folder or pass --overwrite`);
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
