/**
 * Experiment plans: a JSON file listing runs (an id, the table it belongs to, its train options), read and validated
 * here, and turned into one command line per run for any job runner.
 *
 * @module
 */
import { planOptionKeys } from "../train/option_table.ts";
import * as path from "node:path";
import type { TrainOptions } from "../train/config.ts";

/**
 * The tables of `docs/RESULTS.md`, in order; a run's `tables` name the ones it appears in.
 *
 * @example
 * ```ts
 * import { RESULT_TABLES } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(RESULT_TABLES[0], "headline");
 * ```
 */
export const RESULT_TABLES = [
  "headline",
  "ablation",
  "convergence",
  "multitask",
  "labels",
  "ssl",
] as const;

/** One of {@linkcode RESULT_TABLES}. */
export type ResultTable = typeof RESULT_TABLES[number];

/** One run of a plan. */
export interface PlannedRun {
  /** Unique id: lower-case letters, digits and `-` (it names `results/<id>.json` and the run folder). */
  id: string;
  /** Tables the run appears in. */
  tables: ResultTable[];
  /** Train options over the plan's `defaults` (`data` and `out` are set by the runner). */
  options: Partial<TrainOptions>;
}

/** A plan file. */
export interface ExperimentPlan {
  /** What the plan is for. */
  description: string;
  /** Manifest CSV, relative to the current directory when the runner starts (the repo root). */
  data: string;
  /** Options every run starts from. */
  defaults: Partial<TrainOptions>;
  /** The runs, in the order they run. */
  runs: PlannedRun[];
}

/** A run with the plan's defaults applied: exactly what `train` gets (but `out`). */
export interface ResolvedRun {
  /** Run id. */
  id: string;
  /** Tables the run appears in. */
  tables: ResultTable[];
  /** `defaults` ⊕ `options`, with `data`. */
  options: Omit<TrainOptions, "out">;
}

const ID = /^[a-z0-9][a-z0-9-]{0,79}$/;
const OPTION_KEYS = planOptionKeys(); // from the option table (lib/train/option_table.ts)

/**
 * Validates a parsed plan: unique, file-safe ids, known tables and known option names.
 *
 * @example
 * ```ts
 * import { parsePlan } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const plan = parsePlan({
 *   description: "two runs",
 *   data: "fixtures/phantoms/manifest.csv",
 *   defaults: { size: 32, epochs: 1 },
 *   runs: [{ id: "a", tables: ["ablation"], options: { mode: "seg" } }, { id: "b", tables: ["labels"], options: {} }],
 * }, "plan.json");
 * assert.equal(plan[1].options.size, 32);
 * assert.throws(() => parsePlan({ ...plan, runs: [{ id: "../x", tables: [], options: {} }] }, "plan.json"));
 * ```
 * @param value the parsed JSON
 * @param file the plan's path (for messages)
 * @returns the runs with defaults and data applied, in plan order
 * @throws {Error} naming the file, the run and what is wrong
 */
export function parsePlan(value: unknown, file: string): ResolvedRun[] {
  const fail = (msg: string): never => {
    throw new Error(`${file}: ${msg}`);
  };
  if (typeof value !== "object" || value === null) fail("a plan is a JSON object with data, defaults and runs");
  const p = value as Partial<ExperimentPlan>;
  if (typeof p.data !== "string" || !p.data) fail(`"data" must be the manifest CSV path`);
  if (!Array.isArray(p.runs) || !p.runs.length) fail(`"runs" must be a non-empty list`);
  const checkOptions = (o: unknown, where: string) => {
    if (typeof o !== "object" || o === null || Array.isArray(o)) fail(`${where}: options must be an object`);
    for (const k of Object.keys(o as object)) {
      if (!OPTION_KEYS.has(k)) fail(`${where}: unknown option "${k}" (use train option names such as "size")`);
    }
  };
  checkOptions(p.defaults ?? {}, "defaults");
  const seen = new Set<string>();
  return p.runs!.map((r, i) => {
    const where = `runs[${i}]`;
    if (typeof r?.id !== "string" || !ID.test(r.id)) {
      fail(`${where}: id ${JSON.stringify(r?.id)} must be lower-case letters, digits and "-" (it names files)`);
    }
    if (seen.has(r.id)) fail(`${where}: id "${r.id}" is used twice`);
    seen.add(r.id);
    if (!Array.isArray(r.tables) || r.tables.some((t) => !(RESULT_TABLES as readonly string[]).includes(t))) {
      fail(`${where} (${r.id}): "tables" must list some of ${RESULT_TABLES.join(", ")}`);
    }
    checkOptions(r.options ?? {}, `${where} (${r.id})`);
    const d = p.defaults ?? {}, o = r.options ?? {};
    const merged: Omit<TrainOptions, "out"> = { ...d, ...o, data: p.data! };
    if (d.segmentor || o.segmentor) merged.segmentor = { ...d.segmentor, ...o.segmentor };
    if (d.discriminator || o.discriminator) merged.discriminator = { ...d.discriminator, ...o.discriminator };
    return { id: r.id, tables: [...r.tables], options: merged };
  });
}

/**
 * Reads and validates a plan file.
 *
 * @example
 * ```ts
 * import { readPlan } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const plan = {
 *   data: "labels.csv",
 *   defaults: { size: 64, epochs: 20 },
 *   runs: [{ id: "seg-xe", tables: ["ablation"], options: { mode: "seg", loss: "xe" } }],
 * };
 * await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(plan));
 * const [run] = await readPlan(`${dir}/plan.json`);
 * assert.equal(run.id, "seg-xe");
 * assert.equal(run.options.epochs, 20); // the plan's defaults apply
 * ```
 * @param file path of the JSON plan
 * @returns the runs in plan order
 * @throws {Error} naming the file when it is missing, not JSON, or invalid
 */
export async function readPlan(file: string): Promise<ResolvedRun[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read the plan (${(e as Error).message}); pass --plan <file.json>`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parsePlan(value, file);
}

/**
 * The command line that runs one planned run, for a job runner (GNU parallel, a Slurm array, a Kubernetes Indexed
 * Job): `deno run -A cli.ts experiments --plan <plan> --run <id>`.
 *
 * @example
 * ```ts
 * import { runCommandLine } from "./plan.ts";
 * import assert from "node:assert/strict";
 * assert.equal(runCommandLine("experiments/plan.json", "a"), "deno run -A cli.ts experiments --plan experiments/plan.json --run a");
 * ```
 * @param planFile the plan's path as given
 * @param id the run id
 * @param extra further arguments (e.g. `["--results", "out/results"]`)
 * @returns one shell-safe command line
 */
export function runCommandLine(planFile: string, id: string, extra: string[] = []): string {
  const q = (s: string) => (/^[\w./@:-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
  return ["deno run -A cli.ts experiments --plan", q(planFile), "--run", q(id), ...extra.map(q)].join(" ");
}

/** The folder a planned run trains in: `<runsDir>/<id>`. */
export function runFolder(runsDir: string, id: string): string {
  return path.join(runsDir, id);
}
