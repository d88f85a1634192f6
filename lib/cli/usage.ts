/**
 * The usage text of every command (what `--help` prints and a usage error shows).
 *
 * @module
 */
import { trainFlagUsage } from "./train_flags.ts";

/** Usage by command (`main`: the overview). */
export const USAGE: Record<string, string> = {
  main: `appaunet — APPAU-Net (Adversarial Pyramid Progressive Attention U-Net) with the KLTV loss on TF.js + WebGPU

usage: deno run -A cli.ts <command> [flags]      (--version prints the version)

commands:
  info      backend, WebGPU adapter, versions
  demo      train mtl on the bundled synthetic phantoms, evaluate, write the report (runs/demo)
  prepare   turn Montgomery/Shenzhen downloads into a manifest CSV at a chosen size
  train     train (mtl | seg | cls) on a manifest
  eval      metrics of a checkpoint on a split
  predict   masks, overlays and class probabilities for images (PNG, JPEG, DICOM incl. compressed; DICOM SEG out)
  serve     a local HTTP API (POST /v1/predict) and a page that runs the model in the browser
  merge     join the shard files of predict --shard into predictions.jsonl
  export    a model folder for inference (no optimizer state; metadata: size, normalization, classes), or ONNX
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
  --reduced-decode    decode JPEG 2000 and HTJ2K only down to 4 × the model's side, as serve does (a 2048² JPEG
                      2000 X-ray in tens of ms, not most of a second); masks keep the image's size, overlays
                      have the decoded size
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
