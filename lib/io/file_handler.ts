/**
 * A `tf.io.IOHandler` for Deno's file system: the standard tfjs layers format (`model.json` + `weights.bin`),
 * loadable by `tf.loadLayersModel` in a browser too. tfjs's own `file://` handler exists only in tfjs-node.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import { writeFileSynced } from "./fs.ts";

function concatWeights(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  if (!Array.isArray(data)) return new Uint8Array(data);
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/**
 * An IOHandler that saves to / loads from `dir/model.json` and `dir/weights.bin`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fileHandler } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
 * await m.save(fileHandler(dir));
 * const back = await tf.loadLayersModel(fileHandler(dir));
 * assert.equal(back.countParams(), 3);
 * ```
 * @param dir folder (created on save)
 * @returns the handler
 */
export function fileHandler(dir: string): tf.io.IOHandler {
  // Long: tf.io's save and load halves of one handler.
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await Deno.mkdir(dir, { recursive: true });
      const weights = concatWeights(artifacts.weightData as ArrayBuffer | ArrayBuffer[] | undefined);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeFileSynced(path.join(dir, "weights.bin"), weights);
      await writeFileSynced(path.join(dir, "model.json"), new TextEncoder().encode(JSON.stringify(modelJson)));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, "model.json");
      let json: {
        modelTopology: tf.io.ModelArtifacts["modelTopology"];
        weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
        format?: string;
        generatedBy?: string;
        convertedBy?: string | null;
        trainingConfig?: tf.io.TrainingConfig;
        userDefinedMetadata?: { [key: string]: object };
      };
      try {
        json = JSON.parse(await Deno.readTextFile(jsonPath));
      } catch (e) {
        throw new Error(
          `${jsonPath}: cannot read the model (${(e as Error).message}); ` +
            "pass a folder written by appaunet (it holds model.json and weights.bin)",
        );
      }
      if (!json?.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new Error(`${jsonPath}: not a tfjs layers model.json (no modelTopology/weightsManifest)`);
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const chunks: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          try {
            chunks.push(await Deno.readFile(path.join(dir, p)));
          } catch (e) {
            throw new Error(
              `${path.join(dir, p)}: cannot read weights (${(e as Error).message}); the checkpoint is incomplete`,
            );
          }
        }
      }
      const weightData = concatWeights(chunks.map((c) => c.slice().buffer as ArrayBuffer));
      const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
      if (weightData.byteLength !== expected) {
        throw new Error(
          `${dir}: weights are ${weightData.byteLength} bytes but model.json describes ${expected}; the checkpoint is truncated or mismatched`,
        );
      }
      return {
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: weightData.buffer as ArrayBuffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        trainingConfig: json.trainingConfig,
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}
