/**
 * Prediction for one decoded image with a loaded model and its metadata: the segmentor's lung probabilities and the
 * discriminator's class probabilities. No file access (browser-safe); `predict` does the same over files.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { DecodedImage } from "../data/decode.ts";
import { checkImageGeometry, prepareImage } from "../data/prepare_image.ts";
import { inferenceOutputs } from "./evaluation.ts";
import type { ModelMetadata } from "../checkpoint/model_metadata.ts";
import { calibrate, decideClass } from "../checkpoint/calibration.ts";

/**
 * How far a JPEG 2000 or HTJ2K input may be decoded below its own resolution for a model with side `size`: down to the coarsest
 * wavelet level whose sides are still `REDUCED_DECODE × size` (`decodeImageBytes`' `minSide`). The model sees the image
 * area-resized to its side anyway, and a 2048² X-ray then decodes in tens of milliseconds instead of most of a second
 * (bench/README.md). `POST /v1/predict` always does it; `predict` with `reducedDecode`. Four, not two, chosen on val:
 * on 20 val X-rays (10 per source) enlarged to 1024² as lossless JPEG 2000 (shipped 128² model), decoding at 4× moved
 * the TB probability by 0.015 on average (at most 0.082) and the mask by Dice ≥ 0.995 against the full decode, as much
 * as the enlargement itself moves them (0.019, at most 0.079; Dice ≥ 0.997); at 2× it was 0.034 (at most 0.186) and
 * Dice ≥ 0.986 (`bench/reduced_decode.ts`).
 *
 * @example
 * ```ts
 * import { REDUCED_DECODE } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(REDUCED_DECODE * 128, 512); // the shipped model's JPEG 2000 inputs decode at ≥ 512 pixels a side
 * ```
 */
export const REDUCED_DECODE = 4;

/** A loaded model: its nets and the metadata inference needs. */
export interface LoadedModel {
  /** Segmentor (absent in cls mode). */
  segmentor?: tf.LayersModel;
  /** Discriminator (mtl) or classifier (cls) (absent in seg mode). */
  discriminator?: tf.LayersModel;
  /** Mode, size, normalization, class names, threshold. */
  metadata: Pick<
    ModelMetadata,
    "mode" | "size" | "normalize" | "clahe" | "classNames" | "threshold" | "calibration" | "classifierInput"
  >;
}

/** The prediction for one image. */
export interface SingleImagePrediction {
  /** Side of the mask (the model's size). */
  size: number;
  /** Lung probability per pixel, `size × size`, row-major (seg/mtl). */
  mask?: Float32Array;
  /** Share of pixels at or above the threshold (seg/mtl). */
  lungFraction?: number;
  /** Class probabilities by class name (mtl/cls), temperature-scaled when the model has a calibration. */
  probabilities?: Record<string, number>;
  /** The decided class (mtl/cls): the model's val-chosen threshold with two classes, else the most probable class. */
  predictedClass?: string;
}

/**
 * Predicts the lung mask and the class of one decoded image: resize (squash) to the model's size, normalize as in
 * training, run S and D(x ⊕ S(x)) in inference mode.
 *
 * @example
 * ```ts
 * import { createAppauNet, initBackend, predictImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const { segmentor, discriminator } = createAppauNet({ size: 16, segmentor: { depth: 2, baseFilters: 2 }, discriminator: { depth: 2, baseFilters: 2 } });
 * const image = { width: 20, height: 24, data: new Float32Array(480).fill(0.5), format: "png" as const, bitDepth: 8 };
 * const meta = { mode: "mtl" as const, size: 16, normalize: "unit" as const, clahe: false, classNames: ["normal", "tb"], threshold: 0.5 };
 * const p = await predictImage({ segmentor, discriminator, metadata: meta }, image);
 * assert.equal(p.mask!.length, 256);
 * assert.ok(Math.abs(p.probabilities!.normal + p.probabilities!.tb - 1) < 1e-5);
 * ```
 * @param model the nets and their metadata
 * @param image a decoded image (`decodeImageBytes`)
 * @returns mask probabilities, lung fraction, class probabilities
 */
export async function predictImage(model: LoadedModel, image: DecodedImage): Promise<SingleImagePrediction> {
  const m = model.metadata;
  checkImageGeometry(image, "image");
  const plane = prepareImage(image, "image", { size: m.size, normalize: m.normalize, clahe: m.clahe });
  const out = tf.tidy(() =>
    inferenceOutputs(
      {
        segmentor: model.segmentor,
        discriminator: model.discriminator,
        mode: m.mode,
        classifierInput: m.classifierInput,
      },
      tf.tensor4d(plane, [1, m.size, m.size, 1]),
    )
  );
  try {
    const r: SingleImagePrediction = { size: m.size };
    if (out.pred) {
      r.mask = (await out.pred.data()) as Float32Array;
      let n = 0;
      for (const v of r.mask) if (v >= m.threshold) n++;
      r.lungFraction = n / r.mask.length;
    }
    if (out.probs) {
      const raw = Array.from(await out.probs.data());
      const p = m.calibration ? calibrate(raw, m.calibration) : raw;
      r.probabilities = Object.fromEntries(m.classNames.map((c, i) => [c, p[i]]));
      r.predictedClass = m.classNames[decideClass(p, m.calibration?.threshold)];
    }
    return r;
  } finally {
    tf.dispose(Object.values(out));
  }
}
