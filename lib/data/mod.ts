/**
 * Data: decoding PNG/JPEG/DICOM within limits, manifests, resizing and normalization, the in-memory dataset with its
 * splits and label/mask hiding, synthetic phantoms, preparing the public downloads.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./rng.ts";
export * from "./decode.ts";
export * from "./resize.ts";
export * from "./normalize.ts";
export * from "./load.ts";
export * from "./manifest.ts";
export * from "./augment.ts";
export * from "./dataset.ts";
export * from "./phantoms.ts";
export * from "./prepare_image.ts";
export * from "./prepare.ts";
