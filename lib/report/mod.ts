/**
 * The run report: progress output, overlays, charts and `report.html`.
 *
 * @module
 */
export * from "./progress.ts";
export * from "./overlay.ts";
export * from "./base64.ts";
export * from "./report.ts";
