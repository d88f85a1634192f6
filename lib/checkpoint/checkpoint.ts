/**
 * Atomic checkpoints: models (tfjs layers format), optimizer state and trainer state in one folder.
 *
 * Layout of a checkpoint folder: `segmentor/` and (mtl, cls) `discriminator/` (each `model.json` +
 * `weights.bin`), `optimizer_<name>.json` + `.bin`, `state.json`, `config.json`, and `COMPLETE` (written last).
 * Writes go to `<dir>.tmp`, are fsynced, then swapped in with renames (`dir → dir.old`, `dir.tmp → dir`,
 * remove `dir.old`). A kill at any moment leaves `dir` or `dir.old` complete; {@linkcode resolveCheckpoint}
 * picks whichever is.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import { fileHandler } from "../io/file_handler.ts";
import { exists, writeFileSynced } from "../io/fs.ts";
import { assertFiniteWeights, NON_FINITE_CAUSES } from "./numerics.ts";

function weightBytes(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (!data) return new ArrayBuffer(0);
  if (!Array.isArray(data)) return data;
  const out = new Uint8Array(data.reduce((n, b) => n + b.byteLength, 0));
  let o = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out.buffer;
}

const REFUSE_SAVE = `the checkpoint was not written and the previous one is kept; ${NON_FINITE_CAUSES}`;
const REFUSE_LOAD =
  "the checkpoint is damaged or comes from a run that diverged; use another checkpoint (e.g. an earlier best)";

/** A file handler that refuses to save or load non-finite weights. */
function finiteHandler(dir: string, what: string): tf.io.IOHandler {
  const h = fileHandler(dir);
  return {
    save: (a) => {
      assertFiniteWeights(a.weightSpecs ?? [], weightBytes(a.weightData), `${dir} (${what})`, REFUSE_SAVE);
      return h.save!(a);
    },
    load: async () => {
      const a = await h.load!();
      assertFiniteWeights(a.weightSpecs ?? [], weightBytes(a.weightData), `${dir}`, REFUSE_LOAD);
      return a;
    },
  };
}

/** What goes into a checkpoint. */
export interface CheckpointContent {
  /** Models by folder name (`segmentor`, `discriminator`). */
  models: Record<string, tf.LayersModel>;
  /** Optimizers by name (`s`, `d`). */
  optimizers: Record<string, tf.Optimizer>;
  /** Trainer state (JSON). */
  state: Record<string, unknown>;
  /** Run configuration (JSON), copied so the checkpoint is self-contained. */
  config: Record<string, unknown>;
}

/**
 * Saves a checkpoint atomically.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { loadCheckpoint, saveCheckpoint } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = `${await Deno.makeTempDir()}/last`;
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
 * await saveCheckpoint(dir, { models: { segmentor: m }, optimizers: {}, state: { epoch: 1 }, config: {} });
 * assert.equal((await loadCheckpoint(dir)).state.epoch, 1);
 * ```
 * @param dir checkpoint folder (e.g. `runs/x/checkpoints/last`)
 * @param c models, optimizers, state, config
 * @param crashAt for tests only: throw at this phase, as a crash would
 */
export async function saveCheckpoint(
  dir: string,
  c: CheckpointContent,
  crashAt?: "writing" | "swapping",
): Promise<void> {
  const tmp = `${dir}.tmp`, old = `${dir}.old`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await writeAll();
  } catch (e) {
    // No partial checkpoint is left behind (a simulated crash leaves it, as a real one would); the previous one stays.
    if (crashAt !== "writing") await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  await Deno.remove(old, { recursive: true }).catch(() => {});
  if (await exists(dir)) await Deno.rename(dir, old);
  if (crashAt === "swapping") throw new Error("simulated crash while swapping");
  await Deno.rename(tmp, dir);
  await Deno.remove(old, { recursive: true }).catch(() => {});

  async function writeAll() {
    for (const [name, model] of Object.entries(c.models)) await model.save(finiteHandler(path.join(tmp, name), name));
    if (crashAt === "writing") throw new Error("simulated crash while writing");
    for (const [name, opt] of Object.entries(c.optimizers)) {
      const named = await opt.getWeights();
      const { data, specs } = await tf.io.encodeWeights(named);
      for (const n of named) if (!(n.tensor instanceof tf.Variable)) n.tensor.dispose();
      try {
        assertFiniteWeights(specs, weightBytes(data), `${dir} (optimizer ${name})`, REFUSE_SAVE);
      } catch (e) {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        throw e;
      }
      await writeFileSynced(path.join(tmp, `optimizer_${name}.bin`), new Uint8Array(data as ArrayBuffer));
      await writeFileSynced(
        path.join(tmp, `optimizer_${name}.json`),
        new TextEncoder().encode(JSON.stringify({ className: opt.getClassName(), specs })),
      );
    }
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o, null, 2));
    await writeFileSynced(path.join(tmp, "state.json"), enc(c.state));
    await writeFileSynced(path.join(tmp, "config.json"), enc(c.config));
    await writeFileSynced(path.join(tmp, "COMPLETE"), enc({ savedAt: new Date().toISOString() }));
  }
}

/**
 * The complete folder for a checkpoint path: `dir` if it has `COMPLETE`, else `dir.old` (a crash during the
 * swap), else an error that says what is wrong.
 *
 * @example
 * ```ts
 * import { resolveCheckpoint } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.throws(() => resolveCheckpoint("/nonexistent"), /no complete checkpoint/);
 * ```
 * @param dir checkpoint path
 * @returns the folder to read
 * @throws {Error} when neither is complete
 */
export function resolveCheckpoint(dir: string): string {
  for (const d of [dir, `${dir}.old`]) {
    try {
      if (Deno.statSync(path.join(d, "COMPLETE")).isFile) return d;
    } catch { /* try the next */ }
  }
  throw new Error(
    `${dir}: no complete checkpoint here (expected model folders, state.json and COMPLETE); ` +
      "pass a checkpoint folder such as runs/<name>/checkpoints/best",
  );
}

/** A loaded checkpoint. */
export interface LoadedCheckpoint {
  /** The folder actually read. */
  dir: string;
  /** Trainer state. */
  state: Record<string, unknown>;
  /** Run configuration. */
  config: Record<string, unknown>;
}

/**
 * Reads a checkpoint's state and config (models and optimizers are loaded separately).
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await assert.rejects(loadCheckpoint("/nonexistent"), /nonexistent/);
 * ```
 * @param dir checkpoint path
 * @returns state and config
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const d = resolveCheckpoint(dir);
  const read = async (f: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(path.join(d, f)));
    } catch (e) {
      throw new Error(
        `${path.join(d, f)}: unreadable (${(e as Error).message}); the checkpoint is damaged, use another one`,
      );
    }
  };
  return { dir: d, state: await read("state.json"), config: await read("config.json") };
}

/**
 * Loads a model saved in a checkpoint (any tfjs can load the same folder with `tf.loadLayersModel`).
 *
 * @example
 * ```ts
 * import { loadCheckpointModel } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await assert.rejects(loadCheckpointModel("/nonexistent", "segmentor"));
 * ```
 * @param dir checkpoint path
 * @param name `segmentor` or `discriminator`
 * @returns the model
 */
export async function loadCheckpointModel(dir: string, name: string): Promise<tf.LayersModel> {
  const d = resolveCheckpoint(dir);
  return await tf.loadLayersModel(finiteHandler(path.join(d, name), name));
}

/**
 * Copies a checkpoint's weights into an existing model of the same architecture (keeps variable identity).
 *
 * @param dir checkpoint path
 * @param name model folder name
 * @param into the model to fill
 */
export async function restoreModelWeights(dir: string, name: string, into: tf.LayersModel): Promise<void> {
  const loaded = await loadCheckpointModel(dir, name);
  const w = loaded.getWeights();
  if (w.length !== into.getWeights().length) {
    loaded.dispose();
    throw new Error(`${dir}/${name}: the saved model does not match the configured architecture`);
  }
  into.setWeights(w);
  loaded.dispose();
}

/**
 * Restores an optimizer's state (Adam moments, iteration count) saved by {@linkcode saveCheckpoint}.
 *
 * @param dir checkpoint path
 * @param name optimizer name (`s`, `d`)
 * @param opt the optimizer to fill (same class)
 */
export async function restoreOptimizer(dir: string, name: string, opt: tf.Optimizer): Promise<void> {
  const d = resolveCheckpoint(dir);
  const meta = JSON.parse(await Deno.readTextFile(path.join(d, `optimizer_${name}.json`)));
  if (meta.className !== opt.getClassName()) {
    throw new Error(`${d}: optimizer ${name} is ${meta.className}, not ${opt.getClassName()}`);
  }
  const bytes = await Deno.readFile(path.join(d, `optimizer_${name}.bin`));
  assertFiniteWeights(meta.specs, bytes.slice().buffer as ArrayBuffer, `${d} (optimizer ${name})`, REFUSE_LOAD);
  const map = tf.io.decodeWeights(bytes.slice().buffer as ArrayBuffer, meta.specs);
  const list = (meta.specs as { name: string }[]).map((s) => ({ name: s.name, tensor: map[s.name] }));
  await opt.setWeights(list);
  for (const n of list) n.tensor.dispose();
}
