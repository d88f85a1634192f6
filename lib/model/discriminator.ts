/**
 * The APPAU-Net discriminator D: sees image ⊕ mask and outputs K real disease-class logits plus one extra
 * logit for "this mask was predicted by S" (improved-GAN K+1 classes; Salimans et al. 2016).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Options for {@linkcode createDiscriminator}. */
export interface DiscriminatorOptions {
  /** Input side H = W; must be divisible by 2^depth. Default 64. */
  size?: number;
  /** Number of real classes K. Default 2 (normal, TB). */
  numClasses?: number;
  /** Filters of the first block (doubling per block). Default 16. */
  baseFilters?: number;
  /** Number of stride-2 blocks. Default 4. */
  depth?: number;
  /** Dropout before the dense head. Default 0.3. */
  dropout?: number;
  /** Input channels: 2 (image ⊕ mask, default) or 1 (image only: the supervised `cls` baseline). */
  channels?: 1 | 2;
  /** Extra "predicted by S" logit. Default `true`; `false` gives a plain K-class classifier. */
  fakeClass?: boolean;
  /**
   * Momentum of the BatchNormalization moving averages that inference uses. Default 0.99 (Keras's); lower values
   * follow the training statistics within fewer steps.
   */
  batchNormMomentum?: number;
  /** Seed for the initializers and dropout. Default: unseeded. */
  seed?: number;
}

/** Fully resolved discriminator options. */
export type ResolvedDiscriminatorOptions = Required<Omit<DiscriminatorOptions, "seed">> & { seed?: number };

/** Fills in defaults and validates. */
export function resolveDiscriminatorOptions(opts: DiscriminatorOptions = {}): ResolvedDiscriminatorOptions {
  const o = {
    size: 64,
    numClasses: 2,
    baseFilters: 16,
    depth: 4,
    dropout: 0.3,
    channels: 2,
    fakeClass: true,
    batchNormMomentum: 0.99,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  } as ResolvedDiscriminatorOptions;
  if (!Number.isInteger(o.numClasses) || o.numClasses < 2) {
    throw new Error(`discriminator numClasses must be an integer ≥ 2, got ${o.numClasses}`);
  }
  if (!Number.isInteger(o.depth) || o.depth < 1 || o.size % 2 ** o.depth !== 0) {
    throw new Error(`discriminator size ${o.size} must be divisible by 2^depth (depth ${o.depth})`);
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`discriminator dropout must be in [0, 1), got ${o.dropout}`);
  if (!(o.batchNormMomentum >= 0 && o.batchNormMomentum < 1)) {
    throw new Error(`discriminator batchNormMomentum must be in [0, 1), got ${o.batchNormMomentum}`);
  }
  return o;
}

/**
 * Builds D: input `[B, size, size, 2]` (image ⊕ mask), output `[B, numClasses + 1]` logits (last = "predicted").
 * Blocks: conv4×4 stride 2 → BN (from the 2nd block) → LeakyReLU 0.2 with `baseFilters·2^k` filters, then global
 * average pooling → dropout → dense.
 *
 * @example
 * ```ts
 * import { createDiscriminator } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const d = createDiscriminator({ size: 32, depth: 2, baseFilters: 4 });
 * assert.deepEqual(d.outputs[0].shape, [null, 3]);
 * d.dispose();
 * ```
 * @param opts size, classes, width, depth, dropout
 * @returns a tfjs LayersModel named "discriminator"
 */
export function createDiscriminator(opts: DiscriminatorOptions = {}): tf.LayersModel {
  const o = resolveDiscriminatorOptions(opts);
  const seed = (k: number) => (o.seed === undefined ? undefined : o.seed * 1000 + 500 + k);
  const input = tf.input({ shape: [o.size, o.size, o.channels], name: o.channels === 2 ? "image_mask" : "image" });
  let x: tf.SymbolicTensor = input;
  for (let k = 0; k < o.depth; k++) {
    x = tf.layers.conv2d({
      filters: o.baseFilters * 2 ** k,
      kernelSize: 4,
      strides: 2,
      padding: "same",
      useBias: k === 0,
      kernelInitializer: tf.initializers.heNormal({ seed: seed(k) }),
      name: `disc_conv_${k}`,
    }).apply(x) as tf.SymbolicTensor;
    if (k > 0) {
      x = tf.layers.batchNormalization({ momentum: o.batchNormMomentum, name: `disc_bn_${k}` }).apply(
        x,
      ) as tf.SymbolicTensor;
    }
    x = tf.layers.leakyReLU({ alpha: 0.2, name: `disc_lrelu_${k}` }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({ name: "disc_gap" }).apply(x) as tf.SymbolicTensor;
  // No dropout seed: a seeded tfjs dropout draws the same mask on every call. The trainer seeds Math.random
  // (which unseeded tfjs random ops use) per step instead, so runs stay reproducible.
  if (o.dropout > 0) x = tf.layers.dropout({ rate: o.dropout, name: "disc_dropout" }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({
    units: o.numClasses + (o.fakeClass ? 1 : 0),
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed(100) }),
    name: "logits",
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: "discriminator" });
}
