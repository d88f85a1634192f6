/**
 * The run report: progress output, overlays, charts and `report.html`.
 *
 * @module
 */
export { createProgress } from "./progress.ts";
export type { Progress, ProgressMode } from "./progress.ts";
export { svgIntervalChart, svgLineChart } from "./report.ts";
export type { EpochRecord } from "./epoch_record.ts";
