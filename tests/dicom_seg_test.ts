// predict --dicom-seg: a DICOM Segmentation object per DICOM input, read back by the field's own tools (pydicom,
// dciodvfy): its frame equals the PNG mask, its references match the source, and no header value leaks into the JSON.
import assert from "node:assert/strict";
import * as path from "node:path";
import { initBackend, predict, train, writePhantomDataset } from "../mod.ts";
import { decodeImageBytes } from "../mod.ts";
import { dicomOfImage, writeDicom } from "../fixtures/loader_fixtures.ts";
import { tinyRunOptions } from "./run_options.ts";
import { DICOM_TOOLS, gatedTest } from "./webgpu_helper.ts";

await initBackend({ backend: "cpu" });

/** A DICOM copy of a phantom PNG, with the UIDs and patient module a SEG needs. */
async function dicomOf(png: string, out: string, n: number): Promise<Record<string, string>> {
  const img = decodeImageBytes(await Deno.readFile(png), png);
  const uids = {
    StudyInstanceUID: `1.2.826.0.1.3680043.8.498.100.${n}`,
    SeriesInstanceUID: `1.2.826.0.1.3680043.8.498.200.${n}`,
    SOPInstanceUID: `1.2.826.0.1.3680043.8.498.300.${n}`,
  };
  await Deno.writeFile(
    out,
    dicomOfImage(img, 12, {
      ...uids,
      PatientName: `Phantom^Number${n}`,
      PatientID: `PHANTOM-SECRET-${n}`,
      StudyDate: "20261207",
      SeriesNumber: "1",
      InstanceNumber: "1",
    }),
  );
  return uids;
}

gatedTest(
  "predict --dicom-seg writes a DICOM SEG per DICOM input that pydicom and dciodvfy accept, equal to the PNG mask",
  [DICOM_TOOLS],
  async () => {
    const root = await Deno.makeTempDir({ prefix: "appaunet-seg-" });
    try {
      const data = await writePhantomDataset(path.join(root, "data"), { count: 24, size: 32, seed: 5 });
      await train({ ...tinyRunOptions(data, path.join(root, "run"), { mode: "seg", epochs: 1 }), progress: "none" });
      const model = path.join(root, "run", "checkpoints", "best");
      const pngs = [...Deno.readDirSync(path.join(root, "data", "images"))].map((e) => e.name).sort().slice(0, 3);
      const inputs = path.join(root, "in");
      await Deno.mkdir(inputs);
      const sources: Record<string, Record<string, string>> = {};
      for (const [i, f] of pngs.slice(0, 2).entries()) {
        sources[`x${i}`] = await dicomOf(path.join(root, "data", "images", f), path.join(inputs, `x${i}.dcm`), i);
      }
      await Deno.copyFile(path.join(root, "data", "images", pngs[2]), path.join(inputs, "plain.png"));
      const out = path.join(root, "pred");
      const recs = await predict({ model, inputs: [inputs], out, dicomSeg: true });
      assert.equal(recs.length, 3);
      for (const r of recs) {
        if (r.id === "plain") {
          assert.equal(r.dicomSeg, undefined, "a PNG input got a SEG");
          continue;
        }
        assert.ok(r.dicomSeg && r.mask, `${r.id}: no SEG`);
        const uids = sources[r.id];
        const check = new Deno.Command("/usr/bin/python3", {
          args: [
            "-c",
            `
import sys, json, numpy as np, pydicom
from PIL import Image
seg = pydicom.dcmread(sys.argv[1]); src = pydicom.dcmread(sys.argv[3])
frame = seg.pixel_array.astype(bool)
mask = np.array(Image.open(sys.argv[2])) > 0
ref = seg.ReferencedSeriesSequence[0]
print(json.dumps({
  "equal": bool(frame.shape == mask.shape and (frame == mask).all()), "lung": int(mask.sum()),
  "study": seg.StudyInstanceUID, "series": ref.SeriesInstanceUID,
  "sop": ref.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID,
  "source": seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID,
  "sopClass": seg.SOPClassUID, "type": seg.SegmentationType, "label": seg.SegmentSequence[0].SegmentLabel,
  "patient": str(seg.PatientID), "rows": seg.Rows, "cols": seg.Columns, "srcRows": src.Rows, "srcCols": src.Columns,
  "newSeries": seg.SeriesInstanceUID != src.SeriesInstanceUID}))`,
            r.dicomSeg,
            r.mask,
            path.join(inputs, `${r.id}.dcm`),
          ],
          stdout: "piped",
          stderr: "piped",
        }).outputSync();
        assert.ok(check.success, new TextDecoder().decode(check.stderr));
        const got = JSON.parse(new TextDecoder().decode(check.stdout));
        assert.ok(got.equal, `${r.id}: the SEG's frame differs from the PNG mask`);
        assert.ok(got.lung > 0, `${r.id}: an empty mask proves nothing`);
        assert.equal(got.study, uids.StudyInstanceUID);
        assert.equal(got.series, uids.SeriesInstanceUID);
        assert.equal(got.sop, uids.SOPInstanceUID);
        assert.equal(got.source, uids.SOPInstanceUID);
        assert.equal(got.sopClass, "1.2.840.10008.5.1.4.1.1.66.4");
        assert.equal(got.type, "BINARY");
        assert.equal(got.label, "lung");
        assert.equal(got.patient, `PHANTOM-SECRET-${r.id.slice(1)}`, "the SEG must belong to the source's patient");
        assert.deepEqual([got.rows, got.cols], [got.srcRows, got.srcCols]);
        assert.ok(got.newSeries);
        const v = new Deno.Command("dciodvfy", { args: [r.dicomSeg], stdout: "piped", stderr: "piped" }).outputSync();
        const report = new TextDecoder().decode(v.stderr) + new TextDecoder().decode(v.stdout);
        assert.match(report, /Segmentation/, report);
        assert.doesNotMatch(report, /^Error/m, `dciodvfy ${r.dicomSeg}:\n${report}`);
      }
      const jsonl = await Deno.readTextFile(path.join(out, "predictions.jsonl"));
      assert.doesNotMatch(jsonl, /PHANTOM-SECRET|Phantom\^/, "a patient identifier leaked into predictions.jsonl");
      // The option is part of the folder's identity: resuming without it is refused.
      await assert.rejects(predict({ model, inputs: [inputs], out, resume: true }), /dicomSeg true → false/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

Deno.test("predict --dicom-seg: a classifier without a segmentor, and a DICOM without UIDs, are refused before writing", async () => {
  const root = await Deno.makeTempDir({ prefix: "appaunet-seg-" });
  try {
    const data = await writePhantomDataset(path.join(root, "data"), { count: 24, size: 32, seed: 6 });
    await train({ ...tinyRunOptions(data, path.join(root, "cls"), { mode: "cls", epochs: 1 }), progress: "none" });
    await train({ ...tinyRunOptions(data, path.join(root, "seg"), { mode: "seg", epochs: 1 }), progress: "none" });
    const img = path.join(root, "x.dcm");
    await Deno.writeFile(
      img,
      writeDicom({
        rows: 32,
        cols: 32,
        pixels: new Uint16Array(1024).fill(700),
        bitsAllocated: 16,
        bitsStored: 12,
        photometric: "MONOCHROME2",
      }),
    );
    const out = path.join(root, "pred");
    await assert.rejects(
      predict({ model: path.join(root, "cls", "checkpoints", "best"), inputs: [img], out, dicomSeg: true }),
      /dicomSeg \(--dicom-seg\): the model is a cls model without a segmentor/,
    );
    await assert.rejects(
      predict({ model: path.join(root, "seg", "checkpoints", "best"), inputs: [img], out, dicomSeg: true }),
      /x\.dcm: no Study Instance UID.*dcmodify/s,
    );
    assert.ok(!(await Deno.stat(path.join(out, "predictions.jsonl")).catch(() => null)), "wrote before refusing");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
