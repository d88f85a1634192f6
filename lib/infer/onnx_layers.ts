/**
 * The ONNX graph under construction and the builder of each tfjs layer type appaunet's nets use (see onnx_export.ts
 * for the mapping and its limits).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** ONNX TensorProto data types. */
export const FLOAT = 1, INT64 = 7;

/** A value in the graph: its name, channels and spatial size (NCHW). */
export interface Edge {
  name: string;
  c: number;
  h: number;
  w: number;
}

/** A graph under construction. */
export class Graph {
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

/** What a layer's builder gets: the graph, its inputs, its config and weights, its name for constants and errors. */
interface LayerContext {
  g: Graph;
  /** The first input. */
  x: Edge;
  /** All inputs. */
  ins: Edge[];
  /** The layer's config (tfjs's camelCase keys). */
  c: Record<string, unknown>;
  /** The layer, for its weights. */
  layer: tf.layers.Layer;
  /** Prefix for the layer's constants: `<net>/<layer name>`. */
  p: string;
  /** The layer as errors name it. */
  where: string;
  className: string;
}
type LayerBuilder = (L: LayerContext) => Edge | Promise<Edge>;

const buildConv2D: LayerBuilder = async (L) => {
  const { g, x, c, layer, p, where } = L;
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
  const W = g.constant(`${p}/kernel`, [filters, x.c, kh, kw], toOihw(kernel, [kh, kw, x.c, filters]));
  const inputsConv = [x.name, W];
  if (c.useBias) inputsConv.push(g.constant(`${p}/bias`, [filters], bias));
  const conv = g.node("Conv", inputsConv, {
    kernel_shape: [kh, kw],
    strides: [sh, sw],
    dilations: [dh, dw],
    pads,
  }, "Conv");
  return { name: activation(g, conv, String(c.activation ?? "linear"), where), c: filters, h: oh, w: ow };
};

const buildConv2DTranspose: LayerBuilder = async (L) => {
  const { g, x, c, layer, p, where } = L;
  const [kernel, bias] = await weightsOf(layer);
  const [kh, kw] = c.kernelSize as number[];
  const [sh, sw] = c.strides as number[];
  if (kh !== sh || kw !== sw) {
    throw new Error(`export --format onnx: ${where}: only kernel = stride transposed convolutions are supported`);
  }
  const filters = c.filters as number;
  // tfjs: [kh, kw, out, in]; ONNX ConvTranspose: [in, out, kh, kw].
  const W = g.constant(`${p}/kernel`, [x.c, filters, kh, kw], toOihw(kernel, [kh, kw, filters, x.c]));
  const inputsT = [x.name, W];
  if (c.useBias) inputsT.push(g.constant(`${p}/bias`, [filters], bias));
  const up = g.node("ConvTranspose", inputsT, { kernel_shape: [kh, kw], strides: [sh, sw] }, "ConvTranspose");
  return { name: activation(g, up, String(c.activation ?? "linear"), where), c: filters, h: x.h * sh, w: x.w * sw };
};

const buildBatchNormalization: LayerBuilder = async (L) => {
  const { g, x, c, layer, p } = L;
  const ws = await weightsOf(layer);
  let k = 0;
  const gamma = c.scale !== false ? ws[k++] : new Float32Array(x.c).fill(1);
  const beta = c.center !== false ? ws[k++] : new Float32Array(x.c);
  const mean = ws[k++], variance = ws[k++];
  return {
    ...x,
    name: g.node("BatchNormalization", [
      x.name,
      g.constant(`${p}/gamma`, [x.c], gamma),
      g.constant(`${p}/beta`, [x.c], beta),
      g.constant(`${p}/mean`, [x.c], mean),
      g.constant(`${p}/variance`, [x.c], variance),
    ], { epsilon: c.epsilon as number }),
  };
};

const buildReLU: LayerBuilder = (L) => {
  const { g, x, c, where } = L;
  if (c.maxValue !== null && c.maxValue !== undefined) {
    throw new Error(`export --format onnx: ${where}: ReLU with max_value is not supported`);
  }
  return { ...x, name: g.node("Relu", [x.name]) };
};

const buildLeakyReLU: LayerBuilder = (L) => {
  const { g, x, c } = L;
  return { ...x, name: g.node("LeakyRelu", [x.name], { alpha: c.alpha as number }) };
};

const buildActivation: LayerBuilder = (L) => {
  const { g, x, c, where } = L;
  return { ...x, name: activation(g, x.name, String(c.activation), where) };
};

const buildPooling2D: LayerBuilder = (L) => {
  const { g, x, c, where } = L;
  const [ph, pw] = c.poolSize as number[];
  const [sh, sw] = (c.strides as number[] | null) ?? [ph, pw];
  if (c.padding !== "valid") throw new Error(`export --format onnx: ${where}: only "valid" pooling is supported`);
  return {
    c: x.c,
    h: Math.floor((x.h - ph) / sh) + 1,
    w: Math.floor((x.w - pw) / sw) + 1,
    name: g.node(L.className === "MaxPooling2D" ? "MaxPool" : "AveragePool", [x.name], {
      kernel_shape: [ph, pw],
      strides: [sh, sw],
    }),
  };
};

const buildUpSampling2D: LayerBuilder = (L) => {
  const { g, x, c, p } = L;
  const [fh, fw] = c.size as number[];
  const mode = c.interpolation === "bilinear" ? "linear" : "nearest";
  const scales = g.constant(g.fresh(`${p}/scales`), [4], Float32Array.from([1, 1, fh, fw]));
  return {
    c: x.c,
    h: x.h * fh,
    w: x.w * fw,
    name: g.node("Resize", [x.name, "", scales], {
      mode,
      coordinate_transformation_mode: "asymmetric",
      ...(mode === "nearest" ? { nearest_mode: "floor" } : {}),
    }),
  };
};

const buildConcatenate: LayerBuilder = (L) => {
  const { g, x, ins, c, where } = L;
  if (c.axis !== -1 && c.axis !== 3) throw new Error(`export --format onnx: ${where}: only channel concat`);
  return { ...x, c: ins.reduce((s, i) => s + i.c, 0), name: g.node("Concat", ins.map((i) => i.name), { axis: 1 }) };
};

const buildAddOrMultiply: LayerBuilder = (L) => {
  const { g, x, ins } = L;
  let acc = x.name;
  for (const i of ins.slice(1)) acc = g.node(L.className === "Add" ? "Add" : "Mul", [acc, i.name]);
  return { ...x, c: Math.max(...ins.map((i) => i.c)), name: acc };
};

const buildGlobalAveragePooling2D: LayerBuilder = (L) => {
  const { g, x } = L;
  return { c: x.c, h: 1, w: 1, name: g.node("Flatten", [g.node("GlobalAveragePool", [x.name])], { axis: 1 }) };
};

const buildDropout: LayerBuilder = (L) => {
  const { x } = L;
  return x;
};

const buildDense: LayerBuilder = async (L) => {
  const { g, x, c, layer, p, where } = L;
  const [kernel, bias] = await weightsOf(layer);
  const units = c.units as number;
  const gemmIn = [x.name, g.constant(`${p}/kernel`, [x.c, units], kernel)];
  if (c.useBias) gemmIn.push(g.constant(`${p}/bias`, [units], bias));
  return {
    c: units,
    h: 1,
    w: 1,
    name: activation(g, g.node("Gemm", gemmIn), String(c.activation ?? "linear"), where),
  };
};

/** The ONNX builder of each tfjs layer type appaunet's nets use. */
export const LAYER_BUILDERS: Record<string, LayerBuilder> = {
  Conv2D: buildConv2D,
  Conv2DTranspose: buildConv2DTranspose,
  BatchNormalization: buildBatchNormalization,
  ReLU: buildReLU,
  LeakyReLU: buildLeakyReLU,
  Activation: buildActivation,
  AveragePooling2D: buildPooling2D,
  MaxPooling2D: buildPooling2D,
  UpSampling2D: buildUpSampling2D,
  Concatenate: buildConcatenate,
  Add: buildAddOrMultiply,
  Multiply: buildAddOrMultiply,
  GlobalAveragePooling2D: buildGlobalAveragePooling2D,
  Dropout: buildDropout,
  Dense: buildDense,
};
