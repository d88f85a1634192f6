import assert from "node:assert/strict";
import * as path from "node:path";
import { decode } from "fast-png";
import { encodeGrayPng, initBackend, predict, train, writePhantomDataset } from "../mod.ts";
import { tinyRunOptions } from "./run_options.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-deploy-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const repo = path.resolve(import.meta.dirname!, "..");

async function sh(script: string, env: Record<string, string>): Promise<string> {
  const r = await new Deno.Command("sh", {
    args: [path.join(repo, script)],
    env: { ...env, DENO: Deno.execPath(), BACKEND: "cpu", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, text);
  return text;
}
const cli = async (...args: string[]) => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: repo,
    stderr: "piped",
  })
    .output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
};
const ids = async (file: string) =>
  (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l).id as string).sort();

Deno.test("batch prediction: the Kubernetes and Slurm examples' command, two shards from the environment, resume, merge; masks in the image's own geometry", async () => {
  const data = await writePhantomDataset(path.join(root, "data"), { count: 28, size: 32, seed: 9 });
  await train({ ...tinyRunOptions(data, path.join(root, "run"), { epochs: 1, overlays: 0 }), progress: "none" });
  const model = path.join(root, "run", "checkpoints", "best");
  const input = path.join(root, "in");
  await Deno.mkdir(input);
  const src = path.join(root, "data", "images");
  for (const f of [...Deno.readDirSync(src)].map((e) => e.name).sort().slice(0, 5)) {
    await Deno.copyFile(path.join(src, f), path.join(input, f));
  }
  // A non-square image: its mask comes back at 40 × 30.
  await Deno.writeFile(path.join(input, "wide.png"), encodeGrayPng(new Float32Array(40 * 30).fill(0.4), 40, 30));
  const all = [...Deno.readDirSync(input)].map((e) => e.name.replace(/\.png$/, "")).sort();

  // The examples run exactly this script with these variables.
  const k8s = await Deno.readTextFile(path.join(repo, "deploy", "k8s-indexed-job.yaml"));
  const slurm = await Deno.readTextFile(path.join(repo, "deploy", "slurm-array.sh"));
  assert.match(k8s, /command: \["sh", "deploy\/predict-shard\.sh"\]/);
  assert.equal(k8s.match(/completions: (\d+)/)![1], k8s.match(/name: SHARDS, value: "(\d+)"/)![1]);
  assert.match(slurm, /\nsh deploy\/predict-shard\.sh\n/);
  const [lo, hi] = slurm.match(/#SBATCH --array=(\d+)-(\d+)/)!.slice(1).map(Number);
  assert.equal(String(hi - lo + 1), slurm.match(/SHARDS=(\d+)/)![1]);

  // Kubernetes: JOB_COMPLETION_INDEX 0 and 1.
  const outK = path.join(root, "out-k8s");
  for (const i of ["0", "1"]) {
    await sh("deploy/predict-shard.sh", {
      MODEL: model,
      INPUT: input,
      OUT: outK,
      SHARDS: "2",
      JOB_COMPLETION_INDEX: i,
    });
  }
  const shard1 = await ids(path.join(outK, "predictions.1-of-2.jsonl"));
  // A rerun of a shard (a retried pod) keeps its results and predicts nothing new.
  await sh("deploy/predict-shard.sh", {
    MODEL: model,
    INPUT: input,
    OUT: outK,
    SHARDS: "2",
    JOB_COMPLETION_INDEX: "0",
  });
  assert.deepEqual(await ids(path.join(outK, "predictions.1-of-2.jsonl")), shard1);
  await cli("merge", "--out", outK);
  assert.deepEqual(await ids(path.join(outK, "predictions.jsonl")), all);
  // Slurm: SLURM_ARRAY_TASK_ID counted from SLURM_ARRAY_TASK_MIN.
  const outS = path.join(root, "out-slurm");
  for (const i of ["4", "5"]) {
    await sh("deploy/predict-shard.sh", {
      MODEL: model,
      INPUT: input,
      OUT: outS,
      SHARDS: "2",
      SLURM_ARRAY_TASK_ID: i,
      SLURM_ARRAY_TASK_MIN: "4",
    });
  }
  await cli("merge", "--out", outS);
  assert.deepEqual(await ids(path.join(outS, "predictions.jsonl")), all);

  // Geometry, threshold and the probability map.
  const recs = await predict({
    model,
    inputs: [path.join(input, "wide.png")],
    out: path.join(root, "one"),
    probabilities: true,
    threshold: 0.3,
  });
  assert.equal(recs[0].width, 40);
  assert.equal(recs[0].height, 30);
  const mask = decode(await Deno.readFile(recs[0].mask!));
  assert.deepEqual([mask.width, mask.height], [40, 30]);
  const prob = decode(await Deno.readFile(recs[0].probabilityMap!));
  assert.deepEqual([prob.width, prob.height, prob.depth], [40, 30, 16]);
  const lung = (mask.data as Uint8Array).filter((v) => v === 255).length / (40 * 30);
  assert.ok(Math.abs(lung - recs[0].lungFraction!) < 1e-9);
  const above = Array.from(prob.data as Uint16Array).filter((v) => v / 65535 >= 0.3).length / (40 * 30);
  assert.ok(Math.abs(above - lung) < 0.01, `${above} vs ${lung}`);
});
