/**
 * `train`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import * as path from "node:path";
import { trainFlagSpec, trainOptionsFromFlags } from "../../cli/train_flags.ts";
import { demoManifest, evaluate, train, type TrainOptions } from "../../../mod.ts";
import { abortOnSignals, num, parse, printMetrics, setup, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[], demo = false) {
  const cmd = demo ? "demo" : "train";
  const { values: v } = parse(cmd, argv, trainFlagSpec());
  if (v.help) return console.log(USAGE[cmd]);
  const { options, runtime } = trainOptionsFromFlags(v, num);
  const opts = options as TrainOptions;
  if (demo) {
    // The demo's run: small nets, 8 epochs, half the class labels, lr 1e-3 (flags given override these).
    opts.data ??= await demoManifest();
    opts.out ??= "runs/demo";
    opts.epochs ??= 8;
    opts.classLabelFraction ??= 0.5;
    opts.lr ??= 1e-3;
    opts.segmentor = { depth: 3, baseFilters: 8, ...opts.segmentor };
    opts.discriminator = { depth: 3, baseFilters: 8, ...opts.discriminator };
  }
  const s = (k: string) => runtime[k] as string | undefined;
  const progress = s("progress") ?? "auto";
  if (!["auto", "bar", "lines", "none"].includes(progress)) {
    throw new UsageError(`--progress: "${progress}" is not auto, bar, lines or none`);
  }
  if (!s("resume") && !opts.data) throw new UsageError(`--data is required\n\n${USAGE.train}`);
  if (!s("resume") && !opts.out) throw new UsageError(`--out is required\n\n${USAGE.train}`);
  await setup({ ...v, "allow-cpu-fallback": v["allow-cpu-fallback"] || demo });
  const { signal, remove } = abortOnSignals();
  const t0 = performance.now();
  let result;
  try {
    result = await train({
      ...opts,
      resume: s("resume"),
      progress: progress as "auto",
      signal,
      shaderWarmup: runtime.shaderWarmup !== false,
      // The demo owns its output folder and replaces its previous run.
      overwrite: demo || Boolean(runtime.overwrite),
    });
  } finally {
    remove();
  }
  const b = result.best;
  console.log(
    `${result.stopped} in ${((performance.now() - t0) / 1000).toFixed(0)} s · best val Dice ${
      b.dice.toFixed(4)
    } (epoch ${b.diceEpoch})` +
      (b.auc > -Infinity ? ` · best val AUC ${b.auc.toFixed(4)} (epoch ${b.aucEpoch})` : "") +
      ` · ${path.join(result.out, "report.html")}`,
  );
  if (demo && result.stopped !== "aborted") {
    const ckpt = path.join(result.out, "checkpoints", "best");
    const e = await evaluate({ model: ckpt, data: result.config.data, split: "test" });
    console.log(`\ntest split, checkpoint ${ckpt} (epoch ${e.epoch}; chosen on val):`);
    printMetrics(e.metrics, e.classNames);
  }
}

/** The `train` command. */
export const trainCommand: Command = { name: "train", run };

/** The `demo` command: `train` on the bundled phantoms with small nets, then the test metrics. */
export const demoCommand: Command = { name: "demo", run: (args) => run(args, true) };
