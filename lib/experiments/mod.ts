/**
 * Experiments: plans of training runs, the runner that turns each into `results/<id>.json`, bootstrap intervals, and
 * the generated `docs/RESULTS.md`.
 *
 * @module
 */
export * from "./bootstrap.ts";
export * from "./plan.ts";
export * from "./runner.ts";
export * from "./results_doc.ts";
