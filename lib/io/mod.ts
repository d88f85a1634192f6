/**
 * Files: PNG encoding and a `tf.io` handler for the file system.
 *
 * @module
 */
export { encodeGrayPng, encodeRgbPng } from "./png.ts";
export { fileHandler } from "./file_handler.ts";
export { maskPng, overlayPng } from "./overlay.ts";
