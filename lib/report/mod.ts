/**
 * The run report (`report.html`, progress lines): the types its callers give it.
 *
 * @module
 */
export type { ProgressMode } from "./progress.ts";
export type { EpochRecord } from "./epoch_record.ts";
