/**
 * APPAU-Net as a pair of networks: segmentor S and discriminator D with shared size.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  createDiscriminator,
  type DiscriminatorOptions,
  type ResolvedDiscriminatorOptions,
  resolveDiscriminatorOptions,
} from "./discriminator.ts";
import {
  createSegmentor,
  type ResolvedSegmentorOptions,
  resolveSegmentorOptions,
  type SegmentorOptions,
  segmentorVariantName,
} from "./segmentor.ts";

/** Options for {@linkcode createAppauNet}. */
export interface AppauNetOptions {
  /** Input side shared by S and D. Default 64. */
  size?: number;
  /** Number of real disease classes K. Default 2. */
  numClasses?: number;
  /** Segmentor options (size and seed are taken from here when absent there). */
  segmentor?: SegmentorOptions;
  /** Discriminator options (size, numClasses and seed likewise). */
  discriminator?: DiscriminatorOptions;
  /** Seed for deterministic initialization. Default: unseeded. */
  seed?: number;
}

/** The pair and its resolved configuration. */
export interface AppauNet {
  /** Segmentor S. */
  segmentor: tf.LayersModel;
  /** Discriminator D. */
  discriminator: tf.LayersModel;
  /** Resolved options of both and the variant name. */
  config: { segmentor: ResolvedSegmentorOptions; discriminator: ResolvedDiscriminatorOptions; variant: string };
}

/**
 * Builds S and D for one input size.
 *
 * @example
 * ```ts
 * import { createAppauNet } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const net = createAppauNet({ size: 32, segmentor: { depth: 2, baseFilters: 4 }, discriminator: { depth: 2, baseFilters: 4 } });
 * assert.equal(net.config.variant, "Pyramid Progressive Attention U-Net");
 * net.segmentor.dispose();
 * net.discriminator.dispose();
 * ```
 * @param opts shared size and per-network options
 * @returns segmentor, discriminator, config
 */
export function createAppauNet(opts: AppauNetOptions = {}): AppauNet {
  const size = opts.size ?? opts.segmentor?.size ?? 64;
  const seg = resolveSegmentorOptions({ seed: opts.seed, ...opts.segmentor, size });
  const disc = resolveDiscriminatorOptions({
    seed: opts.seed,
    numClasses: opts.numClasses,
    ...opts.discriminator,
    size,
  });
  return {
    segmentor: createSegmentor(seg),
    discriminator: createDiscriminator(disc),
    config: { segmentor: seg, discriminator: disc, variant: segmentorVariantName(seg) },
  };
}
