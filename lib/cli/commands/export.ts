/**
 * `export`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import * as path from "node:path";
import type { Calibration } from "../../checkpoint/calibration.ts";
import { exportModel, exportOnnx } from "../../../mod.ts";
import { parse, setup, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
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

/** The `export` command. */
export const exportCommand: Command = { name: "export", run };
