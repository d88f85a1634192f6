/**
 * Shared by the test files that render RESULTS.md: an experiment result file with the bookkeeping fields filled in
 * (versions, machine, dates), so that each test states only the config, epochs and test metrics it is about.
 *
 * @module
 */
import type { ExperimentResult } from "../mod.ts";

/**
 * A result file: `parts` over a fixed shell (schema 1, plan `p.json`, cpu backend, a 2-CPU linux machine, completed).
 *
 * @param parts the fields the test is about (id, tables, config, epochs, test, …)
 * @returns the result
 */
export function resultFile(
  parts: Pick<ExperimentResult, "id" | "tables" | "config" | "epochs" | "test"> & Partial<ExperimentResult>,
): ExperimentResult {
  return {
    schema: 1,
    plan: "p.json",
    params: {},
    versions: {},
    backend: "cpu",
    adapter: null,
    machine: { os: "linux", arch: "x86_64", cpus: 2 },
    finishedAt: "2026-12-07T00:00:00Z",
    trainSeconds: 1,
    stopped: "completed",
    ...parts,
  };
}
