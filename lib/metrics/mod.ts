/**
 * Metrics the field reports beyond overlap: surface distances (HD95).
 *
 * @module
 */
export { hausdorffDistance } from "./hausdorff.ts";
export type { HausdorffOptions } from "./hausdorff.ts";
