/**
 * Fault injection: a process killed with SIGKILL at many points leaves the files it was replacing whole (the old
 * version or the new one, never a mix).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  createRng,
  exportModel,
  initBackend,
  loadCheckpoint,
  loadCheckpointModel,
  resolveCheckpoint,
  train,
  writePhantomDataset,
} from "../mod.ts";
import { tinyRunOptions } from "./run_options.ts";

/** SIGKILL, unless the child has already exited (its timer may fire between its exit and our `await status`). */
function killNow(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError && /already terminated/.test(e.message))) throw e;
  }
}

await initBackend({ backend: "cpu" });
const cli = path.join(import.meta.dirname!, "..", "cli.ts");
const config = path.join(import.meta.dirname!, "..", "deno.json");

/** The bytes that identify an exported model: its nets' weights and its metadata. */
async function fingerprint(dir: string): Promise<string> {
  const d = resolveCheckpoint(dir);
  const parts = [];
  for (const f of ["segmentor/weights.bin", "discriminator/weights.bin", "metadata.json", "state.json"]) {
    const b = await Deno.readFile(path.join(d, f));
    parts.push(Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b))).join("."));
  }
  return parts.join("|");
}

Deno.test("export --overwrite killed with SIGKILL at random points leaves the old model or the new one, whole", async () => {
  const root = await Deno.makeTempDir({ prefix: "appaunet-fault-" });
  try {
    const data = await writePhantomDataset(path.join(root, "data"), { count: 20, size: 32, seed: 2 });
    const ckpt = (name: string) => path.join(root, name, "checkpoints", "best");
    for (const [name, seed] of [["a", 1], ["b", 2]] as const) {
      // Nets of a few MB, so that writing them takes long enough for the kills to land inside the writes.
      const nets = { depth: 3, baseFilters: 24 };
      const o = tinyRunOptions(data, path.join(root, name), { epochs: 1, seed, segmentor: nets, discriminator: nets });
      await train({ ...o, maxPerSplit: 4, progress: "none" });
    }
    // Reference exports of both models.
    const ref: Record<string, string> = {};
    for (const name of ["a", "b"]) {
      await exportModel({ model: ckpt(name), out: path.join(root, `ref-${name}`) });
      ref[name] = await fingerprint(path.join(root, `ref-${name}`));
    }
    assert.notEqual(ref.a, ref.b);
    const target = path.join(root, "model");
    await exportModel({ model: ckpt("a"), out: target });
    const exportCmd = (src: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, cli, "export", "--model", ckpt(src), "--out", target, "--overwrite"],
        stdout: "null",
        stderr: "null",
      });
    // How long one export process takes here (start-up included): the kills are spread over its second half, where
    // it reads the checkpoint and writes the model.
    const t0 = performance.now();
    assert.ok((await exportCmd("b").output()).success);
    const full = performance.now() - t0;
    assert.equal(await fingerprint(target), ref.b);
    const rng = createRng(5);
    const outcomes = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const src = i % 2 ? "b" : "a";
      const child = exportCmd(src).spawn();
      const delay = full * (0.45 + 0.04 * i) + rng.int(15);
      const timer = setTimeout(() => killNow(child), delay);
      const status = await child.status;
      clearTimeout(timer);
      const now = await fingerprint(target);
      assert.ok(
        now === ref.a || now === ref.b,
        `after a kill at ${delay.toFixed(0)} ms the model is neither whole model`,
      );
      outcomes.add(status.success ? "finished" : "killed");
    }
    assert.ok(outcomes.has("killed"), "no export was killed: the test tested nothing");
    // The next export after the kills completes and leaves no temporary folders behind.
    await exportModel({ model: ckpt("b"), out: target, overwrite: true });
    assert.equal(await fingerprint(target), ref.b);
    const left = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => n.startsWith(".model.tmp-"));
    // Temporary folders of killed exports may remain (they are beside, never in, the model); they are not the model.
    assert.ok(left.every((n) => !n.startsWith("model")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("export refuses to write onto the checkpoint it reads", async () => {
  const root = await Deno.makeTempDir({ prefix: "appaunet-fault-" });
  try {
    const data = await writePhantomDataset(path.join(root, "data"), { count: 12, size: 32, seed: 2 });
    await train({ ...tinyRunOptions(data, path.join(root, "run"), { epochs: 1 }), progress: "none" });
    const best = path.join(root, "run", "checkpoints", "best");
    const before = await Deno.readFile(path.join(best, "state.json"));
    await assert.rejects(
      exportModel({ model: best, out: best, overwrite: true }),
      /is \(or holds\) the checkpoint being exported/,
    );
    await assert.rejects(
      exportModel({ model: best, out: path.join(root, "run"), overwrite: true }),
      /is \(or holds\) the checkpoint being exported/,
    );
    assert.deepEqual(await Deno.readFile(path.join(best, "state.json")), before);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Each `<id>_mask.png` of a folder, by name, as a digest. */
async function masks(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith("_mask.png")) continue;
    const b = await Deno.readFile(path.join(dir, e.name));
    out.set(e.name, Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b))).join("."));
  }
  return out;
}

Deno.test("predict never leaves two models' results in one folder: refused, replaced whole, and SIGKILL-safe", async () => {
  const root = await Deno.makeTempDir({ prefix: "appaunet-fault-predict-" });
  try {
    const data = await writePhantomDataset(path.join(root, "data"), { count: 40, size: 32, seed: 4 });
    const images = path.join(root, "data", "images");
    const ckpt = (name: string) => path.join(root, name, "checkpoints", "best");
    for (const [name, seed] of [["a", 1], ["b", 2]] as const) {
      await train({ ...tinyRunOptions(data, path.join(root, name), { epochs: 1, seed }), progress: "none" });
    }
    const { predict } = await import("../mod.ts");
    const ref: Record<string, Map<string, string>> = {};
    for (const name of ["a", "b"]) {
      await predict({ model: ckpt(name), inputs: [images], out: path.join(root, `ref-${name}`) });
      ref[name] = await masks(path.join(root, `ref-${name}`));
    }
    const out = path.join(root, "pred");
    await predict({ model: ckpt("a"), inputs: [images], out });
    await assert.rejects(predict({ model: ckpt("b"), inputs: [images], out }), /another model.*--overwrite/);
    await assert.rejects(
      predict({ model: ckpt("b"), inputs: [images], out, resume: true }),
      /resume \(--resume\): .*another model/,
    );
    await assert.rejects(predict({ model: ckpt("a"), inputs: [images], out, threshold: 0.7 }), /threshold 0.5 → 0.7/);
    assert.deepEqual(await masks(out), ref.a, "a refused run changed the folder");
    // Killed at many points while replacing A's results with B's: the folder is A's whole set, B's whole set, or
    // marked incomplete (state not "complete"), and `--resume` with B then completes B's set.
    const cli = path.join(import.meta.dirname!, "..", "cli.ts");
    const cmd = (model: string, ...extra: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--config",
          config,
          cli,
          "predict",
          "--backend",
          "cpu",
          "--model",
          model,
          "--out",
          out,
          ...extra,
          images,
        ],
        stdout: "null",
        stderr: "null",
      });
    const t0 = performance.now();
    assert.ok((await cmd(ckpt("b"), "--overwrite").output()).success);
    const full = performance.now() - t0;
    assert.deepEqual(await masks(out), ref.b);
    let killedIncomplete = 0;
    for (let i = 0; i < 10; i++) {
      const [from, to] = i % 2 ? ["a", "b"] : ["b", "a"]; // the folder holds `from`'s set
      const child = cmd(ckpt(to), "--overwrite").spawn();
      const timer = setTimeout(() => killNow(child), full * (0.5 + 0.05 * i));
      await child.status;
      clearTimeout(timer);
      const marker = JSON.parse(await Deno.readTextFile(path.join(out, "predictions.run.json")));
      const now = await masks(out);
      if (marker.state === "complete") {
        const want = marker.identity.model === ckpt(to) ? ref[to] : ref[from];
        assert.deepEqual(now, want, `a complete-marked folder holds a mix (kill ${i})`);
      } else {
        killedIncomplete++;
        assert.equal(
          marker.identity.model,
          ckpt(to),
          "an incomplete folder is not marked with the model that wrote it",
        );
        // The next run of the same model finishes it; another model is refused.
        await assert.rejects(predict({ model: ckpt(from), inputs: [images], out, resume: true }), /another model/);
        assert.ok((await cmd(ckpt(to), "--resume").output()).success);
        assert.deepEqual(await masks(out), ref[to], `resume did not complete ${to}'s set (kill ${i})`);
      }
      // Leave `to`'s complete set for the next round.
      const m2 = JSON.parse(await Deno.readTextFile(path.join(out, "predictions.run.json")));
      if (m2.identity.model !== ckpt(to)) {
        assert.ok((await cmd(ckpt(to), "--overwrite").output()).success);
      }
    }
    assert.ok(killedIncomplete > 0, "no kill landed inside a run: the test tested nothing");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("merge refuses a shard whose run did not finish, shards of different models, and a missing folder", async () => {
  const { mergePredictions } = await import("../mod.ts");
  const { claimPredictionFolder } = await import("../lib/infer/prediction_folder.ts");
  const dir = await Deno.makeTempDir({ prefix: "appaunet-merge-" });
  try {
    const id = { modelDigest: "m1", model: "a", size: 64, threshold: 0.5, postprocess: true, probabilities: false };
    const one = await claimPredictionFolder(dir, "predictions.1-of-2.jsonl", id, {});
    await Deno.writeTextFile(path.join(dir, "predictions.1-of-2.jsonl"), '{"id":"x"}\n');
    await one.complete();
    await claimPredictionFolder(dir, "predictions.2-of-2.jsonl", id, {}); // killed: never completed
    await Deno.writeTextFile(path.join(dir, "predictions.2-of-2.jsonl"), '{"id":"y"}\n');
    await assert.rejects(mergePredictions(dir), /predictions\.2-of-2\.jsonl: that shard's run did not finish/);
    await assert.rejects(
      claimPredictionFolder(dir, "predictions.2-of-2.jsonl", { ...id, modelDigest: "m2", model: "b" }, {}),
      /another model/,
    );
    const two = await claimPredictionFolder(dir, "predictions.2-of-2.jsonl", id, { resume: true });
    await two.complete();
    assert.equal((await mergePredictions(dir)).records, 2);
    const marker = JSON.parse(await Deno.readTextFile(path.join(dir, "predictions.run.json")));
    assert.equal(marker.state, "complete");
    await assert.rejects(
      mergePredictions(path.join(dir, "missing")),
      /out \(--out .*missing\): cannot read the folder/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train killed with SIGKILL at many points: the last checkpoint stays whole, and resume reaches the uninterrupted weights", async () => {
  const root = await Deno.makeTempDir({ prefix: "appaunet-fault-train-" });
  try {
    const data = await writePhantomDataset(path.join(root, "data"), { count: 20, size: 32, seed: 8 });
    const flags = [
      "--data",
      data,
      "--size",
      "32",
      "--batch-size",
      "4",
      "--epochs",
      "3",
      "--seed",
      "3",
      "--label-fraction",
      "0.5",
      "--lr",
      "0.001",
      "--depth",
      "2",
      "--base-filters",
      "4",
      "--d-depth",
      "2",
      "--d-base-filters",
      "4",
      "--progress",
      "none",
      "--backend",
      "cpu",
      "--no-shader-warmup",
    ];
    const cli = path.join(import.meta.dirname!, "..", "cli.ts");
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, cli, "train", ...args],
        stdout: "null",
        stderr: "piped",
      });
    const full = path.join(root, "full");
    const t0 = performance.now();
    const r0 = await run([...flags, "--out", full]).output();
    assert.ok(r0.success, new TextDecoder().decode(r0.stderr));
    const duration = performance.now() - t0;
    const out = path.join(root, "killed");
    const rng = createRng(9);
    let kills = 0;
    for (let attempt = 0; attempt < 12; attempt++) {
      const started = await Deno.stat(path.join(out, "checkpoints", "last", "COMPLETE")).then(() => true, () => false);
      const child = run(
        started
          ? ["--resume", out, "--backend", "cpu", "--progress", "none", "--no-shader-warmup"]
          : [...flags, "--out", out],
      ).spawn();
      const kill = attempt < 6;
      const timer = kill ? setTimeout(() => killNow(child), duration * (0.3 + 0.6 * rng.next())) : undefined;
      const st = await child.output();
      clearTimeout(timer);
      if (!st.success) kills++;
      // Whatever happened, a last checkpoint that exists is whole (loadable), never half-written.
      if (await Deno.stat(path.join(out, "checkpoints")).then(() => true, () => false)) {
        const last = path.join(out, "checkpoints", "last");
        if (
          await Deno.stat(`${last}`).then(() => true, () => false) ||
          await Deno.stat(`${last}.old`).then(() => true, () => false)
        ) {
          const ck = await loadCheckpoint(last);
          assert.ok(Number.isInteger(ck.state.epoch));
        }
      }
      if (st.success && !kill) break;
      if (st.success) {
        const ck = await loadCheckpoint(path.join(out, "checkpoints", "last"));
        if (ck.state.epoch === 3) break;
      }
    }
    assert.ok(kills > 0, "no kill landed: the test tested nothing");
    for (const net of ["segmentor", "discriminator"]) {
      const a = await loadCheckpointModel(path.join(full, "checkpoints", "last"), net);
      const b = await loadCheckpointModel(path.join(out, "checkpoints", "last"), net);
      const wa = await Promise.all(a.getWeights().map((t) => t.data()));
      const wb = await Promise.all(b.getWeights().map((t) => t.data()));
      const diff = Math.max(...wa.map((w, i) => Math.max(...Array.from(w).map((v, j) => Math.abs(v - wb[i][j])))));
      assert.ok(diff < 1e-5, `${net}: killed + resumed differs from uninterrupted by ${diff}`);
      a.dispose();
      b.dispose();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("merge killed with SIGKILL leaves no predictions.jsonl or the whole merged one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "appaunet-fault-merge-" });
  try {
    const n = 4, per = 20000;
    for (let k = 1; k <= n; k++) {
      const lines = Array.from({ length: per }, (_, i) => JSON.stringify({ id: `s${k}-${i}`, pad: "x".repeat(60) }));
      await Deno.writeTextFile(path.join(dir, `predictions.${k}-of-${n}.jsonl`), lines.join("\n") + "\n");
    }
    const cli = path.join(import.meta.dirname!, "..", "cli.ts");
    const cmd = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, cli, "merge", "--out", dir, "--overwrite"],
        stdout: "null",
        stderr: "null",
      });
    const t0 = performance.now();
    assert.ok((await cmd().output()).success);
    const full = performance.now() - t0;
    const whole = await Deno.readTextFile(path.join(dir, "predictions.jsonl"));
    assert.equal(whole.trim().split("\n").length, n * per);
    for (let i = 0; i < 8; i++) {
      await Deno.remove(path.join(dir, "predictions.jsonl")).catch(() => {});
      const child = cmd().spawn();
      const timer = setTimeout(() => killNow(child), full * (0.4 + 0.08 * i));
      await child.status;
      clearTimeout(timer);
      const now = await Deno.readTextFile(path.join(dir, "predictions.jsonl")).catch(() => undefined);
      assert.ok(now === undefined || now === whole, `kill ${i}: a partial predictions.jsonl`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
