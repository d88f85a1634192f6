/**
 * The `train` command's flags: the parser's spec, the usage text and the mapping to `train`'s options, generated from
 * the option table (`TRAIN_FLAGS`, lib/train/option_table.ts).
 *
 * @module
 */
import type { TrainOptions } from "../train/config.ts";
import { TRAIN_FLAGS } from "../train/option_table.ts";

export { TRAIN_FLAGS };
export type { TrainFlag } from "../train/option_table.ts";

/**
 * The `node:util` `parseArgs` spec of the flags.
 *
 * @returns flag → type
 */
export function trainFlagSpec(): Record<string, { type: "string" | "boolean" }> {
  return Object.fromEntries(TRAIN_FLAGS.map((f) => [f.flag, { type: f.kind === "switch" ? "boolean" : "string" }]));
}

/**
 * The usage lines of the flags (`--flag value   help`).
 *
 * @returns the lines, joined
 */
export function trainFlagUsage(): string {
  return TRAIN_FLAGS.filter((f) => f.flag !== "data" && f.flag !== "out").map((f) => {
    const left = `  --${f.flag}${f.shown ? ` ${f.shown}` : ""}`;
    return `${left.length > 26 ? `${left}  ` : left.padEnd(28)}${f.help}`;
  }).join("\n");
}

/** What the flags map to. */
export interface MappedTrainFlags {
  /** `train`'s options given (segmentor and discriminator included when any of theirs was). */
  options: Partial<TrainOptions>;
  /** Runtime values given (`progress`, `shaderWarmup`, `resume`, `overwrite`). */
  runtime: Record<string, unknown>;
}

/**
 * Maps parsed flag values to `train`'s options; a flag that was not given is left out (so the library's defaults
 * apply, and `--resume` compares only what was given).
 *
 * @example
 * ```ts
 * import { trainOptionsFromFlags } from "@appaunet/appaunet/cli";
 * import assert from "node:assert/strict";
 * const m = trainOptionsFromFlags({ size: "128", "no-pyramid": true, "d-depth": "3" }, (n, v) => Number(v));
 * assert.deepEqual(m.options, { size: 128, segmentor: { pyramid: false }, discriminator: { depth: 3 } });
 * ```
 * @param values parsed values by flag
 * @param num reads a number flag (throws a usage error naming the flag)
 * @returns the options and runtime values
 */
export function trainOptionsFromFlags(
  values: Record<string, string | boolean | undefined>,
  num: (flag: string, v: string | boolean | undefined) => number | undefined,
): MappedTrainFlags {
  const out: Record<string, Record<string, unknown>> = { train: {}, segmentor: {}, discriminator: {}, runtime: {} };
  for (const f of TRAIN_FLAGS) {
    const v = values[f.flag];
    if (v === undefined || v === false) continue;
    out[f.target][f.key] = f.kind === "switch" ? f.sets : f.kind === "number" ? num(f.flag, v) : v;
  }
  const options = out.train as Partial<TrainOptions>;
  if (Object.keys(out.segmentor).length) options.segmentor = out.segmentor;
  if (Object.keys(out.discriminator).length) options.discriminator = out.discriminator;
  return { options, runtime: out.runtime };
}
