/**
 * `merge`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import { mergePredictions } from "../../../mod.ts";
import { parse, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v } = parse("merge", argv, { out: { type: "string" }, overwrite: { type: "boolean" } });
  if (v.help) return console.log(USAGE.merge);
  if (!v.out) throw new UsageError(`--out is required\n\n${USAGE.merge}`);
  const r = await mergePredictions(v.out as string, { overwrite: Boolean(v.overwrite) });
  console.log(`wrote ${r.file} (${r.records} prediction(s))`);
}

/** The `merge` command. */
export const mergeCommand: Command = { name: "merge", run };
