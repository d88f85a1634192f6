// train's options are declared once (lib/train/option_table.ts): the CLI's usage and parser, and the plans' option
// names, come from the table; its shown defaults must be the library's.
import assert from "node:assert/strict";
import { TRAIN_FLAGS } from "../lib/train/option_table.ts";
import { resolveTrainOptions } from "../lib/train/config.ts";
import { resolveSegmentorOptions } from "../lib/model/segmentor.ts";
import { resolveDiscriminatorOptions } from "../lib/model/discriminator.ts";

Deno.test("option table: every shown default is resolveTrainOptions' default, and every run option has a flag", () => {
  const d = resolveTrainOptions({ data: "m.csv", out: "runs/x" }) as unknown as Record<string, unknown>;
  // The nets' defaults are filled in by the nets' own resolvers (at the run's size).
  const nets: Record<string, unknown> = {
    segmentor: resolveSegmentorOptions({ ...(d.segmentor as object), size: 64 }),
    discriminator: resolveDiscriminatorOptions({ ...(d.discriminator as object), size: 64 }),
  };
  const where = (t: string) => (nets[t] ?? d) as Record<string, unknown>;
  let checked = 0;
  for (const f of TRAIN_FLAGS) {
    if (f.target === "runtime" || f.shown === undefined || !/^-?[\d.]+$/.test(f.shown)) continue;
    const value = where(f.target)[f.key];
    assert.equal(value, Number(f.shown), `--${f.flag} shows ${f.shown}, the default of ${f.key} is ${value}`);
    checked++;
  }
  assert.ok(checked >= 20, `only ${checked} defaults checked`);
  // Options the CLI does not set (set by the library's caller or by other commands).
  const noFlag = new Set(["overlays", "segmentor", "discriminator", "backend"]);
  const flagged = new Set(TRAIN_FLAGS.filter((f) => f.target === "train").map((f) => f.key));
  const missing = Object.keys(d).filter((k) => !flagged.has(k) && !noFlag.has(k));
  assert.deepEqual(missing, [], `train options without a flag: ${missing.join(", ")}`);
});
