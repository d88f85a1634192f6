/**
 * The APPAU-Net segmentor S: a U-Net with an input pyramid, additive attention gates on the skips and
 * progressive (coarse-to-fine summed) side outputs. Each part can be switched off (the paper's 8-variant
 * ablation). Built only from built-in tfjs layers, so `model.json` reloads in any tfjs (browser included).
 *
 * References: Imran & Terzopoulos, "Semi-supervised Multi-task Learning with Chest X-Ray Images", MLMI 2019
 * (arXiv:1908.03693); Oktay et al., "Attention U-Net", MIDL 2018 (attention gate).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Options for {@linkcode createSegmentor}. */
export interface SegmentorOptions {
  /** Input side H = W; must be divisible by 2^depth. Default 64. */
  size?: number;
  /** Number of down-sampling stages. Default 4. */
  depth?: number;
  /** Filters of the first stage (doubling per stage). Default 16; the paper-scale setting is 32. */
  baseFilters?: number;
  /** Input pyramid: the average-pooled image enters every encoder stage ≥ 1. Default `true`. */
  pyramid?: boolean;
  /** Additive attention gates on the skip connections. Default `true`. */
  attention?: boolean;
  /** Progressive side outputs summed coarse-to-fine. Default `true`. */
  progressive?: boolean;
  /** Batch normalization in the conv blocks. Default `true`. */
  batchNorm?: boolean;
  /**
   * Momentum of the BatchNorm moving statistics used at inference (tfjs/Keras convention: `moving ← momentum ·
   * moving + (1 − momentum) · batch`). Default 0.9, i.e. PyTorch's and MONAI's default (their `momentum = 0.1`):
   * the statistics settle within a few dozen steps, which short few-label runs need (Keras' 0.99 needs hundreds;
   * `ganTrainStep` updates them once per step).
   */
  batchNormMomentum?: number;
  /**
   * Also output every side map (sigmoid of the progressive sum at each level, bilinearly upsampled to full size),
   * finest first after the main output. Needs `progressive`. Default `false`.
   */
  deepSupervision?: boolean;
  /** Dropout rate after the bottleneck block. Default 0. */
  dropout?: number;
  /** Seed for the weight initializers (deterministic builds). Default: unseeded. */
  seed?: number;
}

/** Fully resolved segmentor options. */
export type ResolvedSegmentorOptions = Required<Omit<SegmentorOptions, "seed">> & { seed?: number };

/** Fills in defaults and validates. */
export function resolveSegmentorOptions(opts: SegmentorOptions = {}): ResolvedSegmentorOptions {
  const o = {
    size: 64,
    depth: 4,
    baseFilters: 16,
    pyramid: true,
    attention: true,
    progressive: true,
    batchNorm: true,
    batchNormMomentum: 0.9,
    deepSupervision: false,
    dropout: 0,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  } as ResolvedSegmentorOptions;
  if (!(o.batchNormMomentum >= 0 && o.batchNormMomentum < 1)) {
    throw new Error(`segmentor batchNormMomentum must be in [0, 1), got ${o.batchNormMomentum}`);
  }
  if (!Number.isInteger(o.depth) || o.depth < 1) {
    throw new Error(`segmentor depth must be an integer ≥ 1, got ${o.depth}`);
  }
  if (!Number.isInteger(o.size) || o.size % 2 ** o.depth !== 0) {
    throw new Error(
      `segmentor size ${o.size} must be divisible by 2^depth = ${2 ** o.depth}; pick e.g. ${2 ** o.depth * 4}`,
    );
  }
  if (!Number.isInteger(o.baseFilters) || o.baseFilters < 2) {
    throw new Error(`segmentor baseFilters must be an integer ≥ 2, got ${o.baseFilters}`);
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`segmentor dropout must be in [0, 1), got ${o.dropout}`);
  if (o.deepSupervision && !o.progressive) throw new Error("deepSupervision needs progressive: true");
  return o;
}

/** Layer factory with deterministic names and seeds. */
class Builder {
  private n = 0;
  constructor(private readonly prefix: string, private readonly seed?: number) {}
  name(kind: string) {
    return `${this.prefix}_${kind}_${this.n++}`;
  }
  init() {
    return tf.initializers.heNormal({ seed: this.seed === undefined ? undefined : this.seed * 1000 + this.n });
  }
  glorot() {
    return tf.initializers.glorotUniform({ seed: this.seed === undefined ? undefined : this.seed * 1000 + this.n });
  }
  conv(
    x: tf.SymbolicTensor,
    filters: number,
    kernel: number,
    o: { strides?: number; activation?: "relu" | "linear"; bias?: boolean } = {},
  ) {
    return tf.layers.conv2d({
      filters,
      kernelSize: kernel,
      strides: o.strides ?? 1,
      padding: "same",
      activation: o.activation ?? "linear",
      useBias: o.bias ?? true,
      kernelInitializer: o.activation === "relu" ? this.init() : this.glorot(),
      name: this.name("conv"),
    }).apply(x) as tf.SymbolicTensor;
  }
  block(x: tf.SymbolicTensor, filters: number, bn: boolean, momentum: number) {
    for (let i = 0; i < 2; i++) {
      x = tf.layers.conv2d({
        filters,
        kernelSize: 3,
        padding: "same",
        useBias: !bn,
        kernelInitializer: this.init(),
        name: this.name("conv"),
      }).apply(x) as tf.SymbolicTensor;
      if (bn) x = tf.layers.batchNormalization({ name: this.name("bn"), momentum }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU({ name: this.name("relu") }).apply(x) as tf.SymbolicTensor;
    }
    return x;
  }
  apply(layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) {
    return layer.apply(x) as tf.SymbolicTensor;
  }
}

/**
 * Builds the segmentor S: input `[B, size, size, 1]` image, output `[B, size, size, 1]` lung probability
 * (plus side maps when `deepSupervision`).
 *
 * Architecture (documented defaults): encoder stage s has (conv3×3 → BN → ReLU)×2 with `baseFilters·2^s`
 * filters then 2×2 max-pool; the bottleneck has `baseFilters·2^depth`. Pyramid: at stage s ≥ 1 a conv3×3+ReLU of
 * the image average-pooled s times is concatenated before the block. Attention gate on skip x with gating g:
 * α = sigmoid(ψ(ReLU(W_x x + W_g g))), W_x = 1×1 stride 2, W_g = 1×1, both to filters/2, ψ = 1×1 to 1 channel,
 * α upsampled ×2 (bilinear) and multiplied over channels. Decoder: 2×2 stride-2 transposed conv, concat, block.
 * Progressive: P_coarsest = o_coarsest, P_l = o_l + Up×2(P_{l+1}), output sigmoid(P_0).
 *
 * @example
 * ```ts
 * import { createSegmentor } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const s = createSegmentor({ size: 32, depth: 2, baseFilters: 4 });
 * assert.deepEqual(s.outputs[0].shape, [null, 32, 32, 1]);
 * s.dispose();
 * ```
 * @param opts size, depth, filters and the three switches
 * @returns a tfjs LayersModel named "segmentor"
 */
export function createSegmentor(opts: SegmentorOptions = {}): tf.LayersModel {
  const o = resolveSegmentorOptions(opts);
  const b = new Builder("seg", o.seed);
  const input = tf.input({ shape: [o.size, o.size, 1], name: "image" });
  const filters = (s: number) => o.baseFilters * 2 ** s;
  const skips: tf.SymbolicTensor[] = [];
  let x = input;
  let pyr = input;
  for (let s = 0; s < o.depth; s++) {
    if (s > 0 && o.pyramid) {
      pyr = b.apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: b.name("pyr_pool") }), pyr);
      const side = b.conv(pyr, filters(s), 3, { activation: "relu" });
      x = b.apply(tf.layers.concatenate({ name: b.name("pyr_concat") }), [x, side]);
    }
    x = b.block(x, filters(s), o.batchNorm, o.batchNormMomentum);
    skips.push(x);
    x = b.apply(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: b.name("pool") }), x);
  }
  x = b.block(x, filters(o.depth), o.batchNorm, o.batchNormMomentum);
  if (o.dropout > 0) x = b.apply(tf.layers.dropout({ rate: o.dropout, name: b.name("dropout") }), x);
  const sideLogits: tf.SymbolicTensor[] = []; // coarsest first
  for (let l = o.depth - 1; l >= 0; l--) {
    let skip = skips[l];
    if (o.attention) {
      const fInt = Math.max(1, Math.floor(filters(l) / 2));
      const wx = b.conv(skip, fInt, 1, { strides: 2, bias: false });
      const wg = b.conv(x, fInt, 1);
      let q = b.apply(tf.layers.add({ name: b.name("att_add") }), [wx, wg]);
      q = b.apply(tf.layers.reLU({ name: b.name("att_relu") }), q);
      q = b.conv(q, 1, 1);
      q = b.apply(tf.layers.activation({ activation: "sigmoid", name: b.name("att_sigmoid") }), q);
      const alpha = b.apply(
        tf.layers.upSampling2d({ size: [2, 2], interpolation: "bilinear", name: b.name("att_up") }),
        q,
      );
      skip = b.apply(tf.layers.multiply({ name: b.name("att_gate") }), [skip, alpha]);
    }
    const up = b.apply(
      tf.layers.conv2dTranspose({
        filters: filters(l),
        kernelSize: 2,
        strides: 2,
        padding: "same",
        kernelInitializer: b.glorot(),
        name: b.name("upconv"),
      }),
      x,
    );
    x = b.apply(tf.layers.concatenate({ name: b.name("dec_concat") }), [up, skip]);
    x = b.block(x, filters(l), o.batchNorm, o.batchNormMomentum);
    if (o.progressive || l === 0) sideLogits.push(b.conv(x, 1, 1));
  }
  const outputs: tf.SymbolicTensor[] = [];
  const sums: tf.SymbolicTensor[] = []; // P_l, coarsest first
  if (o.progressive) {
    let p = sideLogits[0];
    sums.push(p);
    for (let k = 1; k < sideLogits.length; k++) {
      const upP = b.apply(
        tf.layers.upSampling2d({ size: [2, 2], interpolation: "bilinear", name: b.name("prog_up") }),
        p,
      );
      p = b.apply(tf.layers.add({ name: b.name("prog_add") }), [sideLogits[k], upP]);
      sums.push(p);
    }
  } else sums.push(sideLogits[sideLogits.length - 1]);
  outputs.push(b.apply(tf.layers.activation({ activation: "sigmoid", name: "mask" }), sums[sums.length - 1]));
  if (o.deepSupervision) {
    for (let k = sums.length - 2; k >= 0; k--) {
      const factor = 2 ** (sums.length - 1 - k);
      const up = b.apply(
        tf.layers.upSampling2d({ size: [factor, factor], interpolation: "bilinear", name: b.name("ds_up") }),
        sums[k],
      );
      outputs.push(b.apply(tf.layers.activation({ activation: "sigmoid", name: `side_${k}` }), up));
    }
  }
  return tf.model({ inputs: input, outputs: outputs.length === 1 ? outputs[0] : outputs, name: "segmentor" });
}

/**
 * The paper's name for a variant, e.g. `"Pyramid Progressive Attention U-Net"` or `"U-Net"`.
 *
 * @example
 * ```ts
 * import { segmentorVariantName } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(segmentorVariantName({ pyramid: false }), "Progressive Attention U-Net");
 * ```
 * @param opts the three switches (default on)
 * @returns the variant name
 */
export function segmentorVariantName(
  opts: Pick<SegmentorOptions, "pyramid" | "attention" | "progressive"> = {},
): string {
  const parts: string[] = [];
  if (opts.pyramid ?? true) parts.push("Pyramid");
  if (opts.progressive ?? true) parts.push("Progressive");
  if (opts.attention ?? true) parts.push("Attention");
  return [...parts, "U-Net"].join(" ");
}
