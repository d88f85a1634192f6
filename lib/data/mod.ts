/**
 * Data: decoding PNG/JPEG/DICOM within limits, manifests, resizing and normalization, the in-memory dataset with its
 * splits and label/mask hiding, synthetic phantoms, preparing the public downloads.
 *
 * @module
 */
export { DataError } from "./errors.ts";
export { createRng } from "./rng.ts";
export type { Rng } from "./rng.ts";
export { decodeImageBytes } from "./decode.ts";
export { loadDicomCodecs, withDicomCodecs } from "./dicom_codecs.ts";
export type { LoadDicomCodecsOptions } from "./dicom_codecs.ts";
export { TRANSFER_SYNTAXES } from "./dicom_pixels.ts";
export type { CodecName, PixelEncoding, TransferSyntax } from "./dicom_pixels.ts";
export type { DecodedImage, DecodeOptions } from "./decode.ts";
export { resizeArea, resizeBilinear, resizeMaskNearest } from "./resize.ts";
export { clahe, zScore } from "./normalize.ts";
export type { ClaheOptions } from "./normalize.ts";
export { DEFAULT_INPUT_LIMITS, inputLimits, loadImage, loadMask, setInputLimits } from "./load.ts";
export type { InputLimits, LoadMaskOptions } from "./load.ts";
export { readManifest } from "./manifest.ts";
export type { Manifest, ManifestRow, ReadManifestOptions, SplitName } from "./manifest.ts";
export { augmentPair, augmentStrong, DEFAULT_AUGMENT } from "./augment.ts";
export { cleanMask, countPieces, lungMaskAt } from "./postprocess.ts";
export type { CleanMaskOptions, LungMaskOptions } from "./postprocess.ts";
export type { AugmentOptions } from "./augment.ts";
export { createDataset } from "./dataset.ts";
export type { Batch, BatchOptions, Dataset, DatasetOptions, DatasetSplit, Partition, Sample } from "./dataset.ts";
export { demoManifest, generatePhantoms, writePhantomDataset } from "./phantoms.ts";
export type { Phantom, PhantomOptions, WritePhantomOptions } from "./phantoms.ts";
export { checkImageGeometry, prepareImage } from "./prepare_image.ts";
export type { LoadImageOptions } from "./prepare_image.ts";
export { prepareDataset } from "./prepare.ts";
export type { PrepareOptions } from "./prepare.ts";
