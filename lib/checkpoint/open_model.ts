/**
 * Opening a model for inference: `openModel` resolves a checkpoint, an exported model folder or `"pretrained"` once,
 * loads its nets, its calibration and the metadata inference needs. `evaluate`, `predict`, `serve` and
 * `loadPretrained` all open models through it.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, createFolderAtomically, exists, writeFileSynced } from "../io/fs.ts";
import { loadCheckpoint, loadCheckpointModel } from "./checkpoint.ts";
import type { Calibration } from "./calibration.ts";
import type { ModelMetadata } from "./model_metadata.ts";

/** The parts of a run's `config.json` that evaluation and prediction read. */
export interface RunConfig {
  /** Training mode. */
  mode: "mtl" | "seg" | "cls";
  /** Input side. */
  size: number;
  /** Seed (splits of manifests without a split column). */
  seed: number;
  /** Batch size of the run (the default for evaluation). */
  batchSize: number;
  /** Image normalization. */
  normalize?: "unit" | "zscore";
  /** CLAHE before normalization. */
  clahe?: boolean;
  /** Class names by index. */
  classNames: string[];
  /** The run's subset of each split (0 = all). */
  maxPerSplit?: number;
  /** What the classifier reads (`export --classifier` models: `"image"`); default by mode. */
  classifierInput?: "image" | "image+mask";
}

/** The metadata inference needs (from `metadata.json`, or derived from a checkpoint's config and state). */
export type InferenceMetadata =
  & Pick<
    ModelMetadata,
    "mode" | "size" | "normalize" | "clahe" | "classNames" | "threshold" | "calibration" | "classifierInput"
  >
  & Partial<ModelMetadata>;

/** A model opened by {@linkcode openModel}; call `dispose()` when done. */
export interface OpenedModel {
  /** The folder actually read (a checkpoint being replaced is read from its whole `.old` copy). */
  dir: string;
  /** The run configuration (`config.json`). */
  config: RunConfig;
  /** The trainer state (`state.json`): epoch, val metrics, calibration. */
  state: Record<string, unknown>;
  /** The segmentor (absent in cls mode). */
  segmentor?: tf.LayersModel;
  /** The discriminator (mtl) or classifier (cls) (absent in seg mode). */
  discriminator?: tf.LayersModel;
  /** The val-fitted calibration, when the model has one. */
  calibration?: Calibration;
  /** The metadata inference needs: `metadata.json` of an exported model, else derived from config and state. */
  metadata: InferenceMetadata;
  /** Disposes the nets. */
  dispose(): void;
}

/**
 * The metadata of a model folder read from disk: an exported model's `metadata.json`, else (a checkpoint) derived
 * from its `config.json` and `state.json` (threshold 0.5).
 *
 * @example
 * ```ts
 * import { readModelMetadata, resolveModel } from "./open_model.ts";
 * import assert from "node:assert/strict";
 * const meta = await readModelMetadata(await resolveModel("pretrained"));
 * assert.deepEqual(meta.classNames, ["normal", "tb"]);
 * ```
 * @param dir a resolved checkpoint or model folder
 * @returns the metadata
 */
export async function readModelMetadata(dir: string): Promise<InferenceMetadata> {
  try {
    return JSON.parse(await Deno.readTextFile(path.join(dir, "metadata.json")));
  } catch {
    const c = JSON.parse(await Deno.readTextFile(path.join(dir, "config.json")));
    const state = JSON.parse(await Deno.readTextFile(path.join(dir, "state.json")).catch(() => "{}"));
    return {
      ...(state.calibration ? { calibration: state.calibration } : {}),
      mode: c.mode,
      ...(c.classifierInput ? { classifierInput: c.classifierInput } : {}),
      size: c.size,
      normalize: c.normalize ?? "unit",
      clahe: Boolean(c.clahe),
      classNames: c.classNames,
      threshold: 0.5,
    };
  }
}

/**
 * Opens a checkpoint or exported model folder (or `"pretrained"`) for inference: resolves it once, reads its config,
 * state and metadata from the same folder, and loads the nets the mode has.
 *
 * @example
 * ```ts
 * import { initBackend, openModel } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const m = await openModel("pretrained");
 * assert.equal(m.metadata.size, m.config.size);
 * assert.ok(m.segmentor && m.discriminator);
 * m.dispose();
 * ```
 * @param model a checkpoint or model folder, or `"pretrained"`
 * @returns the opened model (the caller calls `dispose()`)
 * @throws {Error} naming the folder when it holds no complete model
 */
export async function openModel(model: string): Promise<OpenedModel> {
  const ck = await loadCheckpoint(await resolveModel(model));
  const config = ck.config as unknown as RunConfig;
  const segmentor = config.mode !== "cls" ? await loadCheckpointModel(ck.dir, "segmentor") : undefined;
  let discriminator: tf.LayersModel | undefined;
  try {
    discriminator = config.mode !== "seg" ? await loadCheckpointModel(ck.dir, "discriminator") : undefined;
  } catch (e) {
    segmentor?.dispose();
    throw e;
  }
  const calibration = ck.state.calibration as Calibration | undefined;
  const metadata = await readModelMetadata(ck.dir);
  return {
    dir: ck.dir,
    config,
    state: ck.state,
    segmentor,
    discriminator,
    ...(calibration ? { calibration } : {}),
    metadata,
    dispose() {
      segmentor?.dispose();
      discriminator?.dispose();
    },
  };
}

/** The shipped model's folder: `models/appaunet-cxr/` next to this module's package root. */
export const PRETRAINED_URL: URL = new URL("../../models/appaunet-cxr/", import.meta.url);

/**
 * Resolves `"pretrained"` to a folder holding the shipped model: in a checkout or an installed package, its
 * `models/appaunet-cxr/`; when the package runs from a URL (e.g. JSR), a copy downloaded once into the cache
 * (`$APPAUNET_CACHE_DIR`, else `~/.cache/appaunet`, in `models/appaunet-cxr-<hash of metadata.json>`; written to a
 * temporary folder and renamed, so an interrupted download leaves nothing half-made). Any other value is returned as
 * is.
 *
 * @example
 * ```ts
 * import { resolveModel } from "./open_model.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await resolveModel("runs/x/checkpoints/best"), "runs/x/checkpoints/best");
 * assert.match(await resolveModel("pretrained"), /models[\/\\]appaunet-cxr[\/\\]?$/);
 * ```
 * @param model a checkpoint or model folder, or `"pretrained"`
 * @param base where the shipped model lives. Default {@linkcode PRETRAINED_URL}.
 * @returns a folder path
 * @throws {Error} naming the URL when a download fails
 */
export async function resolveModel(model: string, base: URL = PRETRAINED_URL): Promise<string> {
  if (model !== "pretrained") return model;
  if (base.protocol === "file:") return fileURLToPath(base);
  const get = async (rel: string): Promise<Uint8Array<ArrayBuffer>> => {
    const url = new URL(rel, base);
    let r: Response;
    try {
      r = await fetch(url);
    } catch (e) {
      throw new Error(`model (--model pretrained): cannot download ${url}: ${(e as Error).message}`);
    }
    if (!r.ok) throw new Error(`model (--model pretrained): cannot download ${url}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const meta = await get("metadata.json");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", meta));
  const hash = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const dir = path.join(cacheRoot(), "models", `appaunet-cxr-${hash}`);
  const complete = () => exists(path.join(dir, "COMPLETE"));
  if (await complete()) return dir;
  await createFolderAtomically(dir, async (tmp) => {
    await writeFileSynced(path.join(tmp, "metadata.json"), meta);
    for (const f of ["config.json", "state.json", "README.md"]) await writeFileSynced(path.join(tmp, f), await get(f));
    for (const net of ["segmentor", "discriminator"]) {
      await Deno.mkdir(path.join(tmp, net));
      const json = await get(`${net}/model.json`);
      await writeFileSynced(path.join(tmp, net, "model.json"), json);
      const manifest = JSON.parse(new TextDecoder().decode(json)).weightsManifest as { paths: string[] }[];
      for (const p of manifest.flatMap((g) => g.paths)) {
        if (p.includes("/") || p.includes("\\") || p.startsWith(".")) {
          throw new Error(`model (--model pretrained): ${net}/model.json names an unsafe weights file "${p}"`);
        }
        await writeFileSynced(path.join(tmp, net, p), await get(`${net}/${p}`));
      }
    }
    await writeFileSynced(path.join(tmp, "COMPLETE"), await get("COMPLETE"));
  }, complete);
  return dir;
}

/**
 * Loads the shipped pretrained APPAU-Net (Montgomery + Shenzhen, see `models/appaunet-cxr/README.md`): segmentor,
 * discriminator and metadata. From a checkout it reads the files; from the published package it downloads them once
 * into the cache (see {@linkcode resolveModel}).
 *
 * @example
 * ```ts
 * import { initBackend, loadPretrained } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const { segmentor, discriminator, metadata } = await loadPretrained();
 * assert.equal(metadata.size, 128);
 * assert.deepEqual(metadata.classNames, ["normal", "tb"]);
 * assert.deepEqual(segmentor.inputs[0].shape.slice(-1), [1]);
 * segmentor.dispose();
 * discriminator.dispose();
 * ```
 * @returns the nets (the caller disposes them) and the metadata
 * @throws {Error} when the model is missing or damaged
 */
export async function loadPretrained(): Promise<
  { segmentor: tf.LayersModel; discriminator: tf.LayersModel; metadata: ModelMetadata }
> {
  const m = await openModel("pretrained");
  return { segmentor: m.segmentor!, discriminator: m.discriminator!, metadata: m.metadata as ModelMetadata };
}
