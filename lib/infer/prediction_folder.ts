/**
 * Provenance of a `predict` output folder: which model and options produced its files, and whether that run
 * finished. Each run (each shard) keeps a marker `predictions[.k-of-n].run.json` beside its JSONL:
 * `{ identity, state }`, where the state goes `replacing` (removing another run's files) → `running` → `complete`.
 *
 * A folder therefore never holds two models' results without saying so: a run refuses a folder that holds another
 * model's or other options' predictions (unless `overwrite`, which first removes them, file by file, from the other
 * runs' JSONL lines), `--resume` refuses to continue another identity's run, and a killed run leaves its marker in
 * `running` (or `replacing`), which the next run with the same identity finishes or redoes.
 *
 * @module
 */
import * as path from "node:path";
import { writeFileAtomically } from "../io/fs.ts";
import { resolveCheckpoint } from "../checkpoint/checkpoint.ts";

/** What makes two prediction runs interchangeable: the model's weights and the options that change outputs. */
export interface PredictionIdentity {
  /** SHA-256 of the model's weights and metadata files (the same model at another path has the same digest). */
  modelDigest: string;
  /** The model folder as given (for messages only; not compared). */
  model: string;
  /** Model input size. */
  size: number;
  /** Lung threshold. */
  threshold: number;
  /** Masks post-processed. */
  postprocess: boolean;
  /** Probability maps written. */
  probabilities: boolean;
  /** DICOM SEG objects written for DICOM inputs (absent in markers written before it existed: `false`). */
  dicomSeg?: boolean;
  /** JPEG 2000 inputs decoded at a reduced resolution (`reducedDecode`; absent: `false`). */
  reducedDecode?: boolean;
}

/** A marker's content. */
interface Marker {
  identity: PredictionIdentity;
  state: "replacing" | "running" | "complete";
}

const JSONL = /^predictions(\.\d+-of-\d+)?\.jsonl(\.tmp)?$/;
const MARKER = /^predictions(\.\d+-of-\d+)?\.run\.json$/;

/**
 * The digest of a model folder's (or checkpoint's) nets and metadata.
 *
 * @param dir the model or checkpoint folder
 * @returns hex SHA-256
 */
export async function modelDigest(dir: string): Promise<string> {
  const d = resolveCheckpoint(dir);
  const parts: Uint8Array[] = [];
  for (const f of ["segmentor/weights.bin", "discriminator/weights.bin", "config.json", "state.json"]) {
    try {
      parts.push(new TextEncoder().encode(f), await Deno.readFile(path.join(d, f)));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) all.set(p, (o += p.length) - p.length);
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The differences between two identities, as "field: a → b" (empty when interchangeable). */
function differences(a: PredictionIdentity | undefined, b: PredictionIdentity): string[] {
  if (!a) return ["written by an appaunet that did not record which model made it"];
  const out: string[] = [];
  if (a.modelDigest !== b.modelDigest) out.push(`model ${a.model} → ${b.model} (other weights)`);
  for (const k of ["size", "threshold", "postprocess", "probabilities"] as const) {
    if (a[k] !== b[k]) out.push(`${k} ${a[k]} → ${b[k]}`);
  }
  for (const k of ["dicomSeg", "reducedDecode"] as const) {
    if (Boolean(a[k]) !== Boolean(b[k])) out.push(`${k} ${Boolean(a[k])} → ${Boolean(b[k])}`);
  }
  return out;
}

async function readMarker(file: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(file)) as Marker;
  } catch {
    return undefined;
  }
}

async function writeMarker(file: string, m: Marker): Promise<void> {
  await writeFileAtomically(file, JSON.stringify(m, null, 2) + "\n", `--out ${path.dirname(file)}`);
}

/** The files a JSONL's lines name (mask, overlay, probability map, DICOM SEG) that lie in `dir`. */
async function filesNamed(jsonl: string, dir: string): Promise<string[]> {
  const text = await Deno.readTextFile(jsonl).catch(() => "");
  const out: string[] = [];
  for (const line of text.split("\n")) {
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    for (const k of ["mask", "overlay", "probabilityMap", "dicomSeg"]) {
      const f = r[k];
      if (typeof f === "string" && path.resolve(path.dirname(path.resolve(f))) === path.resolve(dir)) out.push(f);
    }
  }
  return out;
}

/** Removes the files a run's JSONL files name, then the JSONL files. */
async function removeSet(jsonls: string[], out: string): Promise<void> {
  for (const j of jsonls) {
    for (const f of await filesNamed(j, out)) await Deno.remove(f).catch(() => {});
  }
  for (const j of jsonls) await Deno.remove(j).catch(() => {});
}

/** A claimed output folder: call `complete()` once the run's JSONL is in place. */
export interface ClaimedPredictionFolder {
  /** Marks the run complete. */
  complete(): Promise<void>;
}

/**
 * Claims `out` for a prediction run (or shard) with `identity`: refuses another identity's files unless
 * `overwrite` (then removes them first), refuses to `resume` another identity's run, and marks the run `running`.
 *
 * @example
 * ```ts
 * import { claimPredictionFolder } from "./prediction_folder.ts";
 * import assert from "node:assert/strict";
 * const out = await Deno.makeTempDir();
 * const id = { modelDigest: "a", model: "m1", size: 64, threshold: 0.5, postprocess: true, probabilities: false };
 * const run = await claimPredictionFolder(out, "predictions.jsonl", id, {});
 * await Deno.writeTextFile(`${out}/predictions.jsonl`, '{"id":"x"}\n');
 * await run.complete();
 * // Another model into the same folder: refused, then replaced with overwrite.
 * await assert.rejects(claimPredictionFolder(out, "predictions.jsonl", { ...id, modelDigest: "b", model: "m2" }, {}), /another model/);
 * await claimPredictionFolder(out, "predictions.jsonl", { ...id, modelDigest: "b", model: "m2" }, { overwrite: true });
 * ```
 * @param out the output folder (created)
 * @param jsonlName this run's JSONL file name (`predictions.jsonl` or `predictions.k-of-n.jsonl`)
 * @param identity the run's model and options
 * @param opts `resume`, `overwrite`
 * @returns the claim
 * @throws {Error} naming the folder, the differences and the fix
 */
export async function claimPredictionFolder(
  out: string,
  jsonlName: string,
  identity: PredictionIdentity,
  opts: { resume?: boolean; overwrite?: boolean },
): Promise<ClaimedPredictionFolder> {
  try {
    await Deno.mkdir(out, { recursive: true });
  } catch (e) {
    throw new Error(`out (--out ${out}): cannot create the folder (${(e as Error).message}); choose another --out`);
  }
  const ownMarker = path.join(out, jsonlName.replace(/\.jsonl$/, ".run.json"));
  const names = [...Deno.readDirSync(out)].filter((e) => e.isFile).map((e) => e.name);
  // Sets by their JSONL base name: a marker and/or JSONL files.
  const sets = new Map<string, { marker?: Marker; jsonls: string[] }>();
  for (const n of names) {
    const base = MARKER.test(n)
      ? n.replace(/\.run\.json$/, "")
      : JSONL.test(n)
      ? n.replace(/\.jsonl(\.tmp)?$/, "")
      : "";
    if (!base) continue;
    const s = sets.get(base) ?? { jsonls: [] };
    if (MARKER.test(n)) s.marker = await readMarker(path.join(out, n));
    else s.jsonls.push(path.join(out, n));
    sets.set(base, s);
  }
  const foreign = [...sets.entries()].filter(([, s]) => differences(s.marker?.identity, identity).length > 0);
  // A run of this identity killed while replacing: its JSONL files (if any) are the replaced run's, still to go.
  const stale = [...sets.values()].filter((s) => s.marker?.state === "replacing" && !foreign.some(([, f]) => f === s));
  if (foreign.length) {
    const why = differences(foreign[0][1].marker?.identity, identity).join("; ");
    if (opts.resume) {
      throw new Error(
        `resume (--resume): ${out} holds predictions of another model or other options (${why}); to replace them drop ` +
          "--resume and pass --overwrite, or choose another --out",
      );
    }
    if (!opts.overwrite) {
      throw new Error(
        `out (--out ${out}): holds predictions of another model or other options (${why}); pass --overwrite to replace ` +
          "them, or choose another --out",
      );
    }
    await writeMarker(ownMarker, { identity, state: "replacing" });
    for (const [base, s] of foreign) {
      await removeSet(s.jsonls, out);
      const m = path.join(out, `${base}.run.json`);
      if (m !== ownMarker) await Deno.remove(m).catch(() => {});
    }
  }
  for (const s of stale) await removeSet(s.jsonls, out);
  await writeMarker(ownMarker, { identity, state: "running" });
  return { complete: () => writeMarker(ownMarker, { identity, state: "complete" }) };
}

/**
 * Checks that the shard runs of a folder are complete and of one identity (for `merge`).
 *
 * @param dir the folder
 * @param shardFiles the shard JSONL files being merged
 * @returns the shards' identity (undefined for shards written before markers existed)
 * @throws {Error} naming the shard that is incomplete or differs
 */
export async function checkShardRuns(dir: string, shardFiles: string[]): Promise<PredictionIdentity | undefined> {
  let first: { file: string; identity: PredictionIdentity } | undefined;
  for (const f of shardFiles) {
    const marker = await readMarker(f.replace(/\.jsonl$/, ".run.json"));
    if (!marker) continue; // written before markers existed
    if (marker.state !== "complete") {
      throw new Error(
        `${f}: that shard's run did not finish (state ${marker.state}); rerun the shard with --resume, then merge`,
      );
    }
    if (!first) first = { file: f, identity: marker.identity };
    else {
      const d = differences(first.identity, marker.identity);
      if (d.length) throw new Error(`${dir}: ${f} and ${first.file} come from different runs (${d.join("; ")})`);
    }
  }
  return first?.identity;
}

/**
 * Marks a merged `predictions.jsonl` as a complete run of the shards' identity.
 *
 * @param dir the folder
 * @param identity the shards' identity
 */
export async function markMerged(dir: string, identity: PredictionIdentity): Promise<void> {
  await writeMarker(path.join(dir, "predictions.run.json"), { identity, state: "complete" });
}
