/**
 * Base64 encoding of bytes (for data: URLs in the report).
 *
 * @module
 */

/**
 * Encodes bytes as base64.
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * import assert from "node:assert/strict";
 * assert.equal(encodeBase64(new Uint8Array([104, 105])), "aGk=");
 * ```
 * @param bytes input
 * @returns base64 text
 */
export function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
