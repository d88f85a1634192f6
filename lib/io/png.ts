/**
 * PNG writing helpers (grayscale 8/16-bit and RGB), built on fast-png.
 *
 * @module
 */
import { encode } from "fast-png";

/**
 * Encodes a [0, 1] grayscale plane as an 8- or 16-bit grayscale PNG (values are clamped and rounded).
 *
 * @example
 * ```ts
 * import { encodeGrayPng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const bytes = encodeGrayPng(new Float32Array([0, 1]), 2, 1, 16);
 * assert.equal(new TextDecoder().decode(bytes.subarray(1, 4)), "PNG");
 * ```
 * @param data row-major plane in [0, 1]
 * @param width width in pixels
 * @param height height in pixels
 * @param depth 8 (default) or 16 bits
 * @returns PNG file bytes
 */
export function encodeGrayPng(data: Float32Array, width: number, height: number, depth: 8 | 16 = 8): Uint8Array {
  const max = depth === 16 ? 65535 : 255;
  const px = depth === 16 ? new Uint16Array(width * height) : new Uint8Array(width * height);
  for (let i = 0; i < px.length; i++) px[i] = Math.round(Math.min(1, Math.max(0, data[i])) * max);
  return encode({ width, height, data: px, depth, channels: 1 });
}

/**
 * Encodes interleaved 8-bit RGB or RGBA bytes as a PNG.
 *
 * @example
 * ```ts
 * import { encodeRgbPng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const bytes = encodeRgbPng(new Uint8Array([255, 0, 0]), 1, 1);
 * assert.equal(bytes.length > 0, true);
 * ```
 * @param rgb interleaved bytes, 3 or 4 per pixel
 * @param width width in pixels
 * @param height height in pixels
 * @param channels 3 (default) or 4
 * @returns PNG file bytes
 */
export function encodeRgbPng(rgb: Uint8Array, width: number, height: number, channels: 3 | 4 = 3): Uint8Array {
  return encode({ width, height, data: rgb, depth: 8, channels });
}
