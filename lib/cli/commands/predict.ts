/**
 * `predict`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import { predict, shardFromSpec } from "../../../mod.ts";
import { num, parse, setup, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v, positionals } = parse("predict", argv, {
    model: { type: "string" },
    out: { type: "string" },
    shard: { type: "string" },
    "batch-size": { type: "string" },
    "skip-bad": { type: "boolean" },
    threshold: { type: "string" },
    probabilities: { type: "boolean" },
    "dicom-seg": { type: "boolean" },
    "reduced-decode": { type: "boolean" },
    resume: { type: "boolean" },
    "no-postprocess": { type: "boolean" },
    overwrite: { type: "boolean" },
  }, true);
  if (v.help) return console.log(USAGE.predict);
  if (!v.model || !v.out) throw new UsageError(`--model and --out are required\n\n${USAGE.predict}`);
  const shard = v.shard ? shardFromSpec(v.shard as string, Deno.env.toObject()) : undefined;
  await setup(v);
  const recs = await predict({
    model: v.model as string,
    out: v.out as string,
    inputs: positionals,
    shard,
    batchSize: num("batch-size", v["batch-size"]),
    skipBad: Boolean(v["skip-bad"]),
    threshold: num("threshold", v.threshold),
    probabilities: Boolean(v.probabilities),
    dicomSeg: Boolean(v["dicom-seg"]),
    reducedDecode: Boolean(v["reduced-decode"]),
    resume: Boolean(v.resume),
    postprocess: !v["no-postprocess"],
    overwrite: Boolean(v.overwrite),
  });
  console.log(
    `wrote ${recs.length} prediction(s) to ${v.out}` +
      (recs.skipped?.length ? `; skipped ${recs.skipped.length} unreadable input(s) (listed above)` : ""),
  );
}

/** The `predict` command. */
export const predictCommand: Command = { name: "predict", run };
