/**
 * `eval`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import { evaluate } from "../../../mod.ts";
import { num, parse, printMetrics, setup, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v } = parse("eval", argv, {
    model: { type: "string" },
    data: { type: "string" },
    split: { type: "string" },
    "batch-size": { type: "string" },
    json: { type: "boolean" },
    "skip-bad": { type: "boolean" },
  });
  if (v.help) return console.log(USAGE.eval);
  if (!v.model || !v.data) throw new UsageError(`--model and --data are required\n\n${USAGE.eval}`);
  await setup(v);
  const r = await evaluate({
    model: v.model,
    data: v.data,
    split: (v.split ?? "test") as "test",
    batchSize: num("batch-size", v["batch-size"]),
    skipBad: Boolean(v["skip-bad"]),
    fieldMetrics: true,
  });
  if (v.json) console.log(JSON.stringify({ split: r.split, epoch: r.epoch, ...r.metrics }, null, 2));
  else {
    console.log(`split ${r.split}, checkpoint epoch ${r.epoch}`);
    printMetrics(r.metrics, r.classNames);
  }
}

/** The `eval` command. */
export const evalCommand: Command = { name: "eval", run };
