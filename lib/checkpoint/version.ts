/**
 * appaunet's version, written into every run's `config.json` and every exported model's metadata.
 *
 * @module
 */

/**
 * appaunet's version, recorded in each run's `config.json` (a test keeps it equal to deno.json's `version`).
 *
 * @example
 * ```ts
 * import { APPAUNET_VERSION } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(APPAUNET_VERSION, "0.1.0");
 * ```
 */
export const APPAUNET_VERSION = "0.1.0";
