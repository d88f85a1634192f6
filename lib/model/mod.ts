/**
 * The networks: the segmentor S (8 variants), the discriminator D, and the APPAU-Net pair.
 *
 * @module
 */
export * from "./segmentor.ts";
export * from "./discriminator.ts";
export * from "./appaunet.ts";
