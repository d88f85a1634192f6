/**
 * The `appaunet` command line: a thin shell over `mod.ts`.
 *
 * ```sh
 * deno run -A cli.ts --help
 * deno install -g -A -n appaunet jsr:@appaunet/appaunet/cli   # then: appaunet demo
 * ```
 *
 * @example From code
 * ```ts
 * import { main } from "@appaunet/appaunet/cli";
 * import assert from "node:assert/strict";
 * assert.equal(await main(["help"]), 0);
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { version as tfjsVersions } from "@tensorflow/tfjs";
import { bundlePage } from "./lib/serve/bundle_page.ts";
import { trainFlagSpec, trainFlagUsage, trainOptionsFromFlags } from "./lib/cli/train_flags.ts";

export { TRAIN_FLAGS, trainOptionsFromFlags } from "./lib/cli/train_flags.ts";
export type { MappedTrainFlags, TrainFlag } from "./lib/cli/train_flags.ts";
export type { DiscriminatorOptions, SegmentorOptions, SslMethod, TrainMode, TrainOptions } from "./mod.ts";
import * as path from "node:path";
import {
  APPAUNET_VERSION,
  backendInfo,
  type BackendName,
  demoManifest,
  evaluate,
  exportModel,
  exportOnnx,
  fastKernelsEnabled,
  initBackend,
  mergePredictions,
  pendingRuns,
  predict,
  prepareDataset,
  readPlan,
  runCommandLine,
  runPlannedRun,
  serveModel,
  setInputLimits,
  shardFromSpec,
  type SplitMetrics,
  train,
  type TrainOptions,
  useFastKernels,
  writeResults,
} from "./mod.ts";
import { winogradOutputTile } from "./lib/kernels/webgpu_winograd.ts";
import type { Calibration } from "./lib/checkpoint/calibration.ts";
import { writeReadmeSummary } from "./lib/experiments/readme_summary.ts";
import { exists } from "./lib/io/fs.ts";

type Spec = Record<string, { type: "string" | "boolean"; short?: string }>;

const COMMON: Spec = {
  help: { type: "boolean", short: "h" },
  "max-file-mb": { type: "string" },
  "max-pixels": { type: "string" },
  backend: { type: "string" },
  "allow-cpu-fallback": { type: "boolean" },
  kernels: { type: "string" },
};

const USAGE: Record<string, string> = {
  main: `appaunet — APPAU-Net (Adversarial Pyramid Progressive Attention U-Net) with the KLTV loss on TF.js + WebGPU

usage: deno run -A cli.ts <command> [flags]      (--version prints the version)

commands:
  info      backend, WebGPU adapter, versions
  demo      train mtl on the bundled synthetic phantoms, evaluate, write the report (runs/demo)
  prepare   turn Montgomery/Shenzhen downloads into a manifest CSV at a chosen size
  train     train (mtl | seg | cls) on a manifest
  eval      metrics of a checkpoint on a split
  predict   masks, overlays and class probabilities for images
  serve     a local HTTP API (POST /v1/predict) and a page that runs the model in the browser
  merge     join the shard files of predict --shard into predictions.jsonl
  export    a model folder for inference (no optimizer state; metadata: size, normalization, classes)
  experiments  run a plan of training runs into results/<id>.json (list, one, or all not done)
  results   rebuild docs/RESULTS.md and its charts from results/*.json

Run 'deno run -A cli.ts <command> --help' for its flags. Every command that reads images takes
--max-file-mb 256 and --max-pixels 64000000 (limits checked before a file is decoded).`,
  info: `usage: cli.ts info [--backend webgpu|cpu] [--kernels fast|stock]
Prints the backend, the WebGPU adapter (description, vendor, software or not, limits), versions and warnings.`,
  demo: `usage: cli.ts demo [--out runs/demo] [--epochs 8] [--backend webgpu|cpu] [--allow-cpu-fallback]
                   [--no-shader-warmup]
Trains APPAU-Net (mtl, 50% of class labels hidden) on fixtures/phantoms at 64², evaluates the best checkpoint
on the test split and writes runs/demo/report.html. It replaces the run of an earlier demo in --out.`,
  prepare: `usage: cli.ts prepare --images <dir> [--masks <dir>[,<dir>…]] --out <dir> [--size 256] [--seed 0]
Montgomery: --images CXR_png --masks ManualMask/leftMask,ManualMask/rightMask (left and right are OR-ed).
Shenzhen:   --images CXR_png --masks mask   (mask files may end in _mask.png).
Labels come from the _0 / _1 file-name suffix; the split is seeded and stratified 70/15/15.`,
  train: `usage: cli.ts train --data <manifest.csv> --out runs/<name> [flags]
${trainFlagUsage()}
  --backend webgpu|cpu      default webgpu; --allow-cpu-fallback to run on cpu when there is no adapter
  --kernels fast|stock      default fast
Ctrl-C finishes the current step, writes a checkpoint and exits; --resume continues from there.`,
  eval:
    `usage: cli.ts eval --model <checkpoint dir | model dir | pretrained> --data <manifest.csv> [--split test] [--batch-size B] [--json]
Prints segmentation (Dice, Jaccard, pixel accuracy: mean ± std) and classification (AUC, accuracy,
sensitivity, specificity, confusion) metrics; --json prints them as JSON.`,
  predict: `usage: cli.ts predict --model <checkpoint dir | model dir | pretrained> --out <dir> [flags]
                      <images… | folders… | manifest.csv>
  --threshold 0.5     lung where the probability is at least this
  --probabilities     also write <id>_prob.png, the probability map as a 16-bit PNG
  --dicom-seg         for DICOM inputs also write <id>_seg.dcm, a DICOM Segmentation object of the lung mask
  --no-postprocess    masks as thresholded (default: keep the two largest components, fill holes)
  --shard k/n         part k of n; env/n or env take k from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
                      SLURM_ARRAY_TASK_ID (Slurm array), then 'merge' joins the shard files
  --resume            keep the results already in the output and predict only the other images (same model and
                      options only)
  --overwrite         replace another model's (or other options') predictions in --out (otherwise refused)
  --skip-bad          leave unreadable inputs out (listed) instead of stopping before writing anything
  --batch-size B
Each image is squashed to the model's size; masks, overlays and maps come back in the image's own width × height.
predictedClass uses the model's val-chosen threshold and calibrated probabilities when the model has them.
Writes <id>_mask.png, <id>_overlay.png and one JSON line per image (predictions.jsonl or predictions.k-of-n.jsonl).`,
  experiments: `usage: cli.ts experiments [--plan experiments/plan.json | --quick] [--list [--all] | --run <id>]
                          [--runs-dir runs/experiments] [--results results] [--force] [--no-shader-warmup]
  --quick         the plan experiments/quick.json (64², a few steps on a small subset: checks the whole chain)
  --list          print one command line per run that has no result yet (for GNU parallel, a Slurm array, a
                  Kubernetes Indexed Job); --all lists every run
  --run <id>      train, evaluate and write results/<id>.json for one run (resumes an interrupted run)
  (no flag)       every run without a result, in plan order
Each run trains in <runs-dir>/<id>; checkpoints are chosen on val, the test split is read only for the result.
Ctrl-C finishes the current step and writes a checkpoint; the same command resumes.`,
  export: `usage: cli.ts export --model <checkpoint dir> --out <folder> [--format tfjs|onnx]
                     [--result results/<id>.json]
                     [--selected-by "<how the checkpoint was chosen>"] [--overwrite] [--scores scores.json]
                     [--classifier <cls checkpoint> [--classifier-result results/<id>.json]]
Writes segmentor/ and discriminator/ (tfjs layers format, metadata in userDefinedMetadata), metadata.json and
what eval and predict need to take the folder as --model. --result records that experiment's test metrics (and its
val-fitted calibration when the checkpoint has none); --scores records an independent scorer's test figures
(experiments/score_predictions.py --json); --classifier pairs the segmentor with a cls run's image classifier (its
calibration and, with --classifier-result, its test metrics). The folder is built beside --out and swapped in whole.
--format onnx (--model: also a model folder or pretrained) writes <folder>/model.onnx instead: one graph,
float32 image [N, 1, size, size] in [0, 1] → lung [N, 1, size, size] and calibrated probabilities [N, K],
normalisation inside, the metadata as ONNX metadata properties.`,
  serve: `usage: cli.ts serve --model <checkpoint dir | model dir | pretrained> [--port 8080] [--host 127.0.0.1]
                    [--token <secret>] [--max-mb 32] [--queue 8] [--max-connections 256] [--no-postprocess]
  GET  /             a page that runs the model in your browser (WebGPU, else WebGL, else cpu); the image stays there
  POST /v1/predict   image bytes in; JSON out: class probabilities, lung fraction, the mask as a base64 PNG
  --token            clients must send 'Authorization: Bearer <token>' (required with a --host beyond this machine)
  --max-mb           largest upload; --queue: requests that may wait for the model (more get 503)
  --max-connections  connections open at once (more get 503); silent ones close after 10 s (no headers) or 60 s
  --no-postprocess   masks as thresholded (default: two largest components, holes filled; the page: ?postprocess=0)
Ctrl-C stops it.`,
  merge: `usage: cli.ts merge --out <dir> [--overwrite]
Joins the shard files predictions.k-of-n.jsonl of a predict --shard run into predictions.jsonl (all shards must be
there; no image twice).`,
  results: `usage: cli.ts results [--results results] [--out docs/RESULTS.md] [--readme README.md]
Rebuilds the results document and its SVG charts from the result files only, and the results table in README.md
(between its <!-- results:begin --> and <!-- results:end --> markers) from them and the shipped model's metadata;
with --results elsewhere, README is left alone unless --readme names one.`,
};

class UsageError extends Error {}

function parse(
  cmd: string,
  argv: string[],
  spec: Spec,
  positionals = false,
): {
  values: Record<string, string | undefined> & Record<string, string | boolean | undefined>;
  positionals: string[];
} {
  let parsed;
  try {
    const r = parseArgs({ args: argv, options: { ...COMMON, ...spec }, strict: true, allowPositionals: positionals });
    parsed = { values: r.values as Record<string, string | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/, "")}\n\n${USAGE[cmd]}`);
  }
  // Input limits apply to every command that reads images.
  const mb = num("max-file-mb", parsed.values["max-file-mb"]), px = num("max-pixels", parsed.values["max-pixels"]);
  if ((mb !== undefined && !(mb > 0)) || (px !== undefined && !(px > 0))) {
    throw new UsageError("--max-file-mb and --max-pixels must be > 0");
  }
  setInputLimits({
    ...(mb !== undefined ? { maxFileBytes: mb * 2 ** 20 } : {}),
    ...(px !== undefined ? { maxPixels: px } : {}),
  });
  return parsed;
}

function num(name: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined || typeof v === "boolean") return undefined;
  // Decimal numbers only (1, 0.25, 2e-4): Number() would also take "0x20", " 12" or "Infinity".
  const n = Number(v);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) || !Number.isFinite(n)) {
    throw new UsageError(`--${name}: "${v}" is not a decimal number`);
  }
  return n;
}

async function setup(values: Record<string, string | boolean | undefined>) {
  const kernels = (values.kernels as string | undefined) ?? "fast";
  if (kernels !== "fast" && kernels !== "stock") throw new UsageError(`--kernels: "${kernels}" is not fast or stock`);
  useFastKernels(kernels === "fast");
  const backend = (values.backend as string | undefined) ?? "webgpu";
  if (backend !== "webgpu" && backend !== "cpu") throw new UsageError(`--backend: "${backend}" is not webgpu or cpu`);
  const info = await initBackend({
    backend: backend as BackendName,
    allowFallback: Boolean(values["allow-cpu-fallback"]),
  });
  // initBackend printed its own warnings (no adapter, another tfjs version); print the rest.
  for (const w of info.warnings) {
    if (!w.includes("Falling back") && !w.includes("fast kernels are written for")) console.error(`warning: ${w}`);
  }
  return info;
}

function printMetrics(m: SplitMetrics, classNames: string[]) {
  const f = (v: number) => (Number.isNaN(v) ? "–" : v.toFixed(4));
  console.log(`images: ${m.n}`);
  if (m.segmentation) {
    const s = m.segmentation;
    console.log(`segmentation (${s.n} images with masks)`);
    console.log(`  Dice            ${f(s.dice.mean)} ± ${f(s.dice.std)}`);
    console.log(`  Jaccard         ${f(s.jaccard.mean)} ± ${f(s.jaccard.std)}`);
    console.log(`  pixel accuracy  ${f(s.pixelAccuracy.mean)} ± ${f(s.pixelAccuracy.std)}`);
    const fm = s.field;
    if (fm) {
      const src = Object.entries(fm.bySource).map(([k, b]) => `${k} ${f(b.dice)} (${b.n})`).join(", ");
      if (src) console.log(`  Dice by source  ${src}`);
      console.log(
        `  HD95 median     ${fm.hd95Median.toFixed(2)} px at the model's size${
          fm.hd95MmMedian ? `, ${fm.hd95MmMedian.median.toFixed(2)} mm (${fm.hd95MmMedian.n} DICOM images)` : ""
        }; masks in > 2 pieces: ${fm.over2Pieces}`,
      );
      console.log(
        `  post-processed  Dice ${f(fm.postprocessed.dice)}, HD95 median ${
          fm.postprocessed.hd95Median.toFixed(2)
        } px, masks in > 2 pieces: ${fm.postprocessed.over2Pieces} (as predict draws masks)`,
      );
    }
  }
  for (
    const [title, c] of [["classification", m.classification], [
      "classification D(x ⊕ y), true masks",
      m.classificationTrueMask,
    ]] as const
  ) {
    if (!c) continue;
    console.log(`${title} (${c.n} labeled images)`);
    const rule = c.threshold !== undefined
      ? `${classNames[1]} where its calibrated probability ≥ ${c.threshold.toFixed(3)} (threshold chosen on val)`
      : "the most probable class";
    console.log(`  AUC ${f(c.auc)}  ECE ${f(c.ece)}  decisions: ${rule}`);
    console.log(`  accuracy ${f(c.accuracy)}  sensitivity ${f(c.sensitivity)}  specificity ${f(c.specificity)}`);
    console.log(`  confusion [true][pred] (${classNames.join(", ")}): ${JSON.stringify(c.confusion)}`);
  }
}

async function cmdTrain(argv: string[], demo = false) {
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

async function cmdEval(argv: string[]) {
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

async function cmdPredict(argv: string[]) {
  const { values: v, positionals } = parse("predict", argv, {
    model: { type: "string" },
    out: { type: "string" },
    shard: { type: "string" },
    "batch-size": { type: "string" },
    "skip-bad": { type: "boolean" },
    threshold: { type: "string" },
    probabilities: { type: "boolean" },
    "dicom-seg": { type: "boolean" },
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
    resume: Boolean(v.resume),
    postprocess: !v["no-postprocess"],
    overwrite: Boolean(v.overwrite),
  });
  console.log(
    `wrote ${recs.length} prediction(s) to ${v.out}` +
      (recs.skipped?.length ? `; skipped ${recs.skipped.length} unreadable input(s) (listed above)` : ""),
  );
}

async function cmdServe(argv: string[]) {
  const { values: v } = parse("serve", argv, {
    model: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    token: { type: "string" },
    "max-mb": { type: "string" },
    queue: { type: "string" },
    "max-connections": { type: "string" },
    "no-postprocess": { type: "boolean" },
  });
  if (v.help) return console.log(USAGE.serve);
  if (!v.model) throw new UsageError(`--model is required\n\n${USAGE.serve}`);
  await setup(v);
  const page = await bundlePage();
  if (page.error) console.error(`warning: no browser page (${page.error}); serving the HTTP API only`);
  const ac = new AbortController();
  let signals = 0;
  // The first signal shuts the server down (in-flight requests finish); a second one quits at once.
  const stop = () => (++signals > 1 ? Deno.exit(130) : ac.abort());
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, stop);
  const mb = num("max-mb", v["max-mb"]);
  const server = await serveModel({
    model: v.model as string,
    port: num("port", v.port) ?? 8080,
    hostname: v.host as string | undefined,
    token: (v.token as string | undefined) ?? Deno.env.get("APPAUNET_TOKEN"),
    maxBodyBytes: mb !== undefined ? mb * 2 ** 20 : undefined,
    queue: num("queue", v.queue),
    maxConnections: num("max-connections", v["max-connections"]),
    postprocess: !v["no-postprocess"],
    pageScript: page.script,
    signal: ac.signal,
  });
  console.log(`serving ${v.model} at ${server.url} (POST ${server.url}v1/predict); Ctrl-C stops`);
  await server.finished;
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(s, stop);
}

async function cmdMerge(argv: string[]) {
  const { values: v } = parse("merge", argv, { out: { type: "string" }, overwrite: { type: "boolean" } });
  if (v.help) return console.log(USAGE.merge);
  if (!v.out) throw new UsageError(`--out is required\n\n${USAGE.merge}`);
  const r = await mergePredictions(v.out as string, { overwrite: Boolean(v.overwrite) });
  console.log(`wrote ${r.file} (${r.records} prediction(s))`);
}

async function cmdPrepare(argv: string[]) {
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

function abortOnSignals(): { signal: AbortSignal; remove: () => void } {
  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) Deno.exit(130);
    console.error("\ninterrupt: finishing the current step and writing a checkpoint (Ctrl-C again to quit now)");
    ac.abort();
  };
  // SIGTERM (a job scheduler's stop, `kill`) is handled like Ctrl-C.
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  return { signal: ac.signal, remove: () => signals.forEach((s) => Deno.removeSignalListener(s, onSignal)) };
}

async function cmdExperiments(argv: string[]) {
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

async function cmdExport(argv: string[]) {
  const { values: v } = parse("export", argv, {
    model: { type: "string" },
    out: { type: "string" },
    result: { type: "string" },
    "selected-by": { type: "string" },
    overwrite: { type: "boolean" },
    scores: { type: "string" },
    classifier: { type: "string" },
    "classifier-result": { type: "string" },
    format: { type: "string" },
  });
  if (v.help) return console.log(USAGE.export);
  if (!v.model || !v.out) throw new UsageError(`--model and --out are required\n\n${USAGE.export}`);
  const format = (v.format as string | undefined) ?? "tfjs";
  if (format !== "tfjs" && format !== "onnx") {
    throw new UsageError(`--format: "${format}" is not tfjs or onnx\n\n${USAGE.export}`);
  }
  if (format === "onnx") {
    const other = ["result", "selected-by", "scores", "classifier", "classifier-result"].filter((k) =>
      v[k] !== undefined
    );
    if (other.length) {
      throw new UsageError(
        `--format onnx: ${other.map((k) => `--${k}`).join(", ")} only apply to tfjs model folders; export the tfjs ` +
          "folder with them first, then --format onnx --model <that folder>",
      );
    }
    await setup({ ...v, backend: "cpu" });
    const r = await exportOnnx({ model: v.model as string, out: v.out as string, overwrite: Boolean(v.overwrite) });
    return console.log(
      `wrote ${r.file}: ${r.input.name} [${r.input.shape.join(", ")}] → ` +
        r.outputs.map((o) => `${o.name} [${o.shape.join(", ")}]`).join(", "),
    );
  }
  let testMetrics: unknown;
  let calibration: Calibration | undefined;
  if (v.result) {
    const r = JSON.parse(await Deno.readTextFile(v.result as string));
    const name = path.basename(path.resolve(v.model as string));
    // The result's test metrics of the exported checkpoint: `seg` is checkpoints/best, `cls` checkpoints/best-cls.
    // Without the per-image predictions and the reliability bins: the metadata travels with every model.json.
    const tests = Object.values(r.test ?? {}).filter((t) => (t as { checkpoint?: string }).checkpoint === name) as {
      predictions?: unknown;
      classification?: { reliability?: unknown; calibration?: Calibration };
    }[];
    testMetrics = tests.map(({ predictions: _p, ...t }) => {
      if (!t.classification) return t;
      const { reliability: _r, ...c } = t.classification;
      calibration ??= c.calibration;
      return { ...t, classification: c };
    });
  }
  if (v["classifier-result"]) {
    // Segmentation from --result, classes from the classifier's result.
    const r = JSON.parse(await Deno.readTextFile(v["classifier-result"] as string));
    const name = path.basename(path.resolve((v.classifier ?? "") as string));
    const tests = Object.values(r.test ?? {}).filter((t) => (t as { checkpoint?: string }).checkpoint === name) as {
      classification?: { reliability?: unknown; calibration?: Calibration };
    }[];
    const segs = ((testMetrics ?? []) as { classification?: unknown }[]).map(({ classification: _c, ...t }) => t);
    calibration = undefined;
    const clss = tests.map((t) => {
      const { reliability: _r, ...c } = t.classification ?? {};
      calibration ??= c.calibration;
      return { classification: c };
    });
    testMetrics = [...segs, ...clss];
  }
  const independentTest = v.scores ? JSON.parse(await Deno.readTextFile(v.scores as string)) : undefined;
  await setup({ ...v, backend: "cpu" });
  const meta = await exportModel({
    model: v.model as string,
    out: v.out as string,
    testMetrics,
    selectedBy: v["selected-by"] as string | undefined,
    overwrite: Boolean(v.overwrite),
    calibration,
    independentTest,
    classifier: v.classifier as string | undefined,
  });
  console.log(`wrote ${v.out} (${meta.mode}, ${meta.size}², classes ${meta.classNames.join(", ")})`);
}

async function cmdResults(argv: string[]) {
  const { values: v } = parse("results", argv, {
    results: { type: "string" },
    out: { type: "string" },
    readme: { type: "string" },
  });
  if (v.help) return console.log(USAGE.results);
  const resultsDir = (v.results as string | undefined) ?? "results";
  const r = await writeResults(resultsDir, (v.out as string | undefined) ?? path.join("docs", "RESULTS.md"));
  // README's results table: the checkout's README from the checkout's results/ (other result folders, e.g. a test's,
  // update a README only when --readme names it).
  const readme = (v.readme as string | undefined) ??
    (v.results === undefined && await exists("README.md") ? "README.md" : undefined);
  if (readme && await writeReadmeSummary(resultsDir, readme, path.join("models", "appaunet-cxr", "metadata.json"))) {
    // Wrapped as `deno task check` expects.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", readme], stdout: "null", stderr: "null" }).output()
      .catch(() => {});
    r.written.push(readme);
  }
  console.log(`read ${r.read} result(s); wrote ${r.written.join(", ")}`);
}

async function cmdInfo(argv: string[]) {
  const { values: v } = parse("info", argv, {});
  if (v.help) return console.log(USAGE.info);
  await setup(v);
  const i = backendInfo();
  console.log(`backend      ${i.backend}`);
  const wino = winogradOutputTile();
  console.log(
    `kernels      ${
      fastKernelsEnabled()
        ? `fast (appaunet replacements; 3×3 convs: ${wino ? `Winograd F(${wino}×${wino}, 3×3)` : "direct"}${
          i.kernelTarget ? `; chosen for a ${i.kernelTarget === "gpu" ? "GPU" : "software adapter"}` : ""
        })`
        : "stock tfjs"
    }`,
  );
  if (i.adapter) {
    const a = i.adapter;
    console.log(
      `adapter      ${a.description || "(no description)"} · vendor ${a.vendor || "?"}${
        a.isFallbackAdapter ? " · software" : ""
      }`,
    );
    if (a.mesaVersion) {
      const bits = a.softwareVectorBits ? ` · ${a.softwareVectorBits}-bit vectors (LP_NATIVE_VECTOR_WIDTH)` : "";
      console.log(`mesa         ${a.mesaVersion}${bits}`);
    }
    if (i.submitBatchSize) {
      console.log(
        `submit batch ${i.submitBatchSize} dispatches per queue submission (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE)`,
      );
    }
    if (a.denoWebgpuBackend) console.log(`wgpu backend ${a.denoWebgpuBackend} (DENO_WEBGPU_BACKEND)`);
    console.log(
      `limits       maxStorageBufferBindingSize ${a.maxStorageBufferBindingSize} · maxComputeWorkgroupStorageSize ${a.maxComputeWorkgroupStorageSize} · maxComputeInvocationsPerWorkgroup ${a.maxComputeInvocationsPerWorkgroup}`,
    );
  }
  console.log(`versions     deno ${i.versions.deno} · tfjs ${i.versions.tfjs} · appaunet ${APPAUNET_VERSION}`);
  for (const w of i.warnings) console.log(`warning      ${w}`);
}

/**
 * Runs the CLI with the given arguments.
 *
 * @example
 * ```ts
 * import { main } from "@appaunet/appaunet/cli";
 * import assert from "node:assert/strict";
 * assert.equal(await main(["--version"]), 0); // prints the version
 * assert.equal(await main(["no-such-command"]), 2); // usage error: prints the usage
 * ```
 * @param args command-line arguments
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    switch (cmd) {
      case "info":
        await cmdInfo(rest);
        break;
      case "demo":
        await cmdTrain(rest, true);
        break;
      case "train":
        await cmdTrain(rest);
        break;
      case "eval":
        await cmdEval(rest);
        break;
      case "predict":
        await cmdPredict(rest);
        break;
      case "prepare":
        await cmdPrepare(rest);
        break;
      case "experiments":
        await cmdExperiments(rest);
        break;
      case "results":
        await cmdResults(rest);
        break;
      case "export":
        await cmdExport(rest);
        break;
      case "merge":
        await cmdMerge(rest);
        break;
      case "serve":
        await cmdServe(rest);
        break;
      case "--version":
      case "-V":
      case "version":
        console.log(`appaunet ${APPAUNET_VERSION} (deno ${Deno.version.deno}, tfjs ${tfjsVersions.tfjs})`);
        break;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE.main);
        break;
      default:
        throw new UsageError(`unknown command "${cmd}"\n\n${USAGE.main}`);
    }
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
