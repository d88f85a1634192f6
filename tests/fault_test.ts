/**
 * Fault injection: a process killed with SIGKILL at many points leaves the files it was replacing whole (the old
 * version or the new one, never a mix).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { createRng, exportModel, initBackend, resolveCheckpoint, train, writePhantomDataset } from "../mod.ts";
import { tinyRunOptions } from "./run_options.ts";

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
      const timer = setTimeout(() => child.kill("SIGKILL"), delay);
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
