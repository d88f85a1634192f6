/**
 * Experiments: plans of training runs, the runner that turns each into `results/<id>.json`, bootstrap intervals, and
 * the generated `docs/RESULTS.md`.
 *
 * @module
 */
export { parsePlan, readPlan, RESULT_TABLES } from "./plan.ts";
export type { ExperimentPlan, PlannedRun, ResolvedRun, ResultTable } from "./plan.ts";
export type { CheckpointTest, ExperimentResult, IntervalStat, ResultEpoch, TestPrediction } from "./runner.ts";
export { renderResults, writeResults } from "./results_doc.ts";
export type { ResultsDocument } from "./results_doc.ts";
