/**
 * `prepare`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import { prepareDataset } from "../../../mod.ts";
import { num, parse, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v } = parse("prepare", argv, {
    images: { type: "string" },
    masks: { type: "string" },
    out: { type: "string" },
    size: { type: "string" },
    seed: { type: "string" },
  });
  if (v.help) return console.log(USAGE.prepare);
  if (!v.images || !v.out) throw new UsageError(`--images and --out are required\n\n${USAGE.prepare}`);
  const csv = await prepareDataset({
    images: v.images,
    masks: v.masks ? v.masks.split(",") : [],
    out: v.out,
    size: num("size", v.size),
    seed: num("seed", v.seed),
  });
  console.log(`wrote ${csv}`);
}

/** The `prepare` command. */
export const prepareCommand: Command = { name: "prepare", run };
