/**
 * `experiments`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import * as path from "node:path";
import { readPlan, runCommandLine } from "../../experiments/plan.ts";
import { pendingRuns, runPlannedRun } from "../../experiments/runner.ts";
import { abortOnSignals, parse, setup, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v } = parse("experiments", argv, {
    plan: { type: "string" },
    quick: { type: "boolean" },
    list: { type: "boolean" },
    all: { type: "boolean" },
    run: { type: "string" },
    "runs-dir": { type: "string" },
    results: { type: "string" },
    force: { type: "boolean" },
    progress: { type: "string" },
    "no-shader-warmup": { type: "boolean" },
  });
  if (v.help) return console.log(USAGE.experiments);
  if (v.quick && v.plan) throw new UsageError(`--quick and --plan: give one\n\n${USAGE.experiments}`);
  const planFile = (v.plan as string | undefined) ?? path.join("experiments", v.quick ? "quick.json" : "plan.json");
  const resultsDir = (v.results as string | undefined) ?? "results";
  const runs = await readPlan(planFile);
  if (v.list) {
    const todo = v.all ? runs : await pendingRuns(runs, resultsDir);
    const extra = [
      ...(v.results ? ["--results", v.results as string] : []),
      ...(v["runs-dir"] ? ["--runs-dir", v["runs-dir"] as string] : []),
    ];
    for (const r of todo) console.log(runCommandLine(planFile, r.id, extra));
    return;
  }
  let todo = await pendingRuns(runs, resultsDir);
  if (v.run) {
    const one = runs.find((r) => r.id === v.run);
    if (!one) throw new UsageError(`--run: "${v.run}" is not a run of ${planFile} (see --list --all)`);
    todo = [one];
  }
  await setup(v);
  const { signal, remove } = abortOnSignals();
  try {
    for (const r of todo) {
      await runPlannedRun(r, {
        planFile,
        resultsDir,
        runsDir: v["runs-dir"] as string | undefined,
        force: Boolean(v.force),
        progress: ((v.progress as string | undefined) ?? "lines") as "lines",
        signal,
        shaderWarmup: !v["no-shader-warmup"],
        log: (l) => console.log(l),
      });
      if (signal.aborted) break;
    }
  } finally {
    remove();
  }
  if (!v.run && !signal.aborted) console.log(`${planFile}: all ${runs.length} run(s) have results in ${resultsDir}/`);
}

/** The `experiments` command. */
export const experimentsCommand: Command = { name: "experiments", run };
