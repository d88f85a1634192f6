#!/usr/bin/env python3
"""Independent scorer of `appaunet predict` output against a manifest's true masks and labels.

It shares no code with appaunet: it reads predict's own files (predictions.jsonl and the <id>_mask.png files, in
each image's own grid) and the manifest's masks and labels, and computes with numpy/scipy what the lung segmentation
and TB literature report:

- lung Dice per image (overall and per `source`), with a percentile bootstrap 95 % interval of the mean;
- HD95 in pixels of the image's grid, and in millimetres for DICOM inputs whose record gives the pixel spacing (boundary pixels, exact Euclidean distance transform, 95th percentile of each
  direction, the larger of the two; as MONAI's compute_hausdorff_distance(percentile=95)), median with interval;
- masks in more than two 8-connected pieces;
- TB AUC (Mann-Whitney, ties counted half) of the positive class's probability, with interval;
- sensitivity and specificity of predict's own decisions (`predictedClass`);
- expected calibration error (10 equal-width bins of the top-label probability).

Usage: score_predictions.py --predictions pred/ --manifest labels.csv [--split test] [--positive tb] [--json out.json]
Needs: python3-numpy, python3-scipy, python3-pil (Debian packages).
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
from PIL import Image
from scipy import ndimage


def load_mask(path):
    a = np.asarray(Image.open(path)).astype(np.float64)
    if a.ndim == 3:
        a = a[..., 0]
    return a >= (a.max() / 2 if a.max() > 0 else 1)


def boundary(m):
    er = ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(2, 1), border_value=0)
    return m & ~er


def hd95(a, b, spacing=None):
    ea, eb = boundary(a), boundary(b)
    if not ea.any() and not eb.any():
        return 0.0
    if not ea.any() or not eb.any():
        return float("inf")
    da = ndimage.distance_transform_edt(~eb, sampling=spacing)[ea]
    db = ndimage.distance_transform_edt(~ea, sampling=spacing)[eb]
    return float(max(np.percentile(da, 95), np.percentile(db, 95)))


def dice(a, b):
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else float(2 * (a & b).sum() / s)


def pieces(m):
    return int(ndimage.label(m, structure=np.ones((3, 3)))[1])


def auc(scores, labels):
    scores, labels = np.asarray(scores), np.asarray(labels)
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt / (len(pos) * len(neg)))


def ece(conf, correct, bins=10):
    conf, correct = np.asarray(conf), np.asarray(correct, dtype=float)
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    e = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            e += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(e)


def boot(n, stat, reps=1000, seed=0):
    rng = np.random.default_rng(seed)
    vals = [stat(rng.integers(0, n, n)) for _ in range(reps)]
    vals = [v for v in vals if np.isfinite(v)]
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))] if vals else [float("nan")] * 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--predictions", required=True, help="predict's output folder (predictions.jsonl)")
    ap.add_argument("--manifest", required=True, help="the manifest CSV with true masks and labels")
    ap.add_argument("--split", default="test")
    ap.add_argument("--positive", default="tb", help="the positive class's name")
    ap.add_argument("--json", help="also write the summary here")
    a = ap.parse_args()
    root = os.path.dirname(os.path.abspath(a.manifest))
    with open(a.manifest, newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f) if r.get("split", a.split) == a.split}
    with open(os.path.join(a.predictions, "predictions.jsonl")) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    recs = [r for r in recs if r["id"] in rows]
    if not recs:
        sys.exit(f"no prediction of {a.predictions} matches a {a.split} row of {a.manifest}")
    seg, cls = [], []
    for r in recs:
        row = rows[r["id"]]
        if row.get("mask") and r.get("mask"):
            truth = np.zeros(0)
            for part in row["mask"].split("|"):
                m = load_mask(os.path.join(root, part))
                truth = m if truth.size == 0 else (truth | m)
            pred = load_mask(r["mask"])
            if pred.shape != truth.shape:
                sys.exit(f"{r['mask']}: {pred.shape} but the true mask is {truth.shape}")
            item = {"id": r["id"], "source": row.get("source", ""), "dice": dice(pred, truth),
                    "hd95": hd95(pred, truth), "pieces": pieces(pred)}
            if r.get("pixelSpacing"):
                item["hd95Mm"] = hd95(pred, truth, r["pixelSpacing"])
            seg.append(item)
        if row.get("label", "") != "" and r.get("probabilities"):
            names = list(r["probabilities"].keys())
            y = 1 if (row.get("label_name") or row["label"]) in (a.positive, str(names.index(a.positive))) else 0
            probs = r["probabilities"]
            top = max(probs, key=probs.get)
            cls.append({"id": r["id"], "y": y, "p": probs[a.positive], "decided": int(r["predictedClass"] == a.positive),
                        "conf": probs[top], "correct": int((top == a.positive) == (y == 1))})
    out = {"predictions": a.predictions, "split": a.split, "images": len(recs)}
    if seg:
        d = np.array([s["dice"] for s in seg])
        h = np.array([s["hd95"] for s in seg])
        out["segmentation"] = {
            "n": len(seg),
            "dice": {"mean": float(d.mean()), "ci95": boot(len(d), lambda i: d[i].mean())},
            "hd95Pixels": {"median": float(np.median(h)), "ci95": boot(len(h), lambda i: np.median(h[i]))},
            "over2Pieces": int(sum(s["pieces"] > 2 for s in seg)),
            **({"hd95Mm": {"n": len(mm), "median": float(np.median(mm))}}
               if (mm := [s["hd95Mm"] for s in seg if "hd95Mm" in s]) else {}),
            "bySource": {
                src: {"n": int(len(v)), "dice": {"mean": float(v.mean()), "ci95": boot(len(v), lambda i, v=v: v[i].mean())}}
                for src in sorted({s["source"] for s in seg}) if src
                for v in [np.array([s["dice"] for s in seg if s["source"] == src])]
            },
        }
    if cls:
        y = np.array([c["y"] for c in cls])
        p = np.array([c["p"] for c in cls])
        dec = np.array([c["decided"] for c in cls])
        out["classification"] = {
            "n": len(cls),
            "auc": auc(p, y),
            "aucCi95": boot(len(y), lambda i: auc(p[i], y[i])),
            "sensitivity": float(dec[y == 1].mean()) if (y == 1).any() else float("nan"),
            "specificity": float(1 - dec[y == 0].mean()) if (y == 0).any() else float("nan"),
            "accuracy": float((dec == y).mean()),
            "ece": ece([c["conf"] for c in cls], [c["correct"] for c in cls]),
        }
    text = json.dumps(out, indent=2)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
