/**
 * The networks: the segmentor S (8 variants), the discriminator D, and the APPAU-Net pair.
 *
 * @module
 */
export { createSegmentor, segmentorVariantName } from "./segmentor.ts";
export type { ResolvedSegmentorOptions, SegmentorOptions } from "./segmentor.ts";
export { createDiscriminator } from "./discriminator.ts";
export type { DiscriminatorOptions, ResolvedDiscriminatorOptions } from "./discriminator.ts";
export { createAppauNet } from "./appaunet.ts";
export type { AppauNet, AppauNetOptions } from "./appaunet.ts";
