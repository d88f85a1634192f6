/**
 * The value chain of a DICOM image (PS3.3 C.11): stored value (BitsStored, sign) → Modality LUT (rescale, or the
 * Modality LUT Sequence) → VOI (window centre/width with LINEAR, LINEAR_EXACT or SIGMOID, else the VOI LUT Sequence,
 * else the stored range) → [0, 1], MONOCHROME1 inverted; built as one table over every stored word.
 *
 * @module
 */
import type dicomParser from "dicom-parser";
import { DataError } from "./errors.ts";

/**
 * The first value of a numeric string element (`undefined` when absent or empty; not a number → NaN, which callers
 * refuse with the tag's name instead of silently using a default).
 *
 * @param ds the data set
 * @param tag the element, e.g. `"x00281053"`
 * @returns its first value
 */
export function firstNumber(ds: dicomParser.DataSet, tag: string): number | undefined {
  const s = ds.string(tag);
  if (s === undefined || s === "") return undefined;
  return Number(s.split("\\")[0].trim());
}

/**
 * The whole value chain of a DICOM image as one table over every stored word: stored value (BitsStored, sign) →
 * Modality LUT (rescale, or the Modality LUT Sequence) → VOI (window with its function, else the VOI LUT Sequence,
 * else the stored range) → [0, 1], MONOCHROME1 inverted. One lookup per pixel then.
 *
 * @param ds the data set
 * @param name the file, for errors
 * @param px the sample format and photometric interpretation
 * @returns the value in [0, 1] of every stored word (2^bitsAllocated entries)
 * @throws {DataError} naming a damaged rescale, window or LUT
 */
export function valueTable(
  ds: dicomParser.DataSet,
  name: string,
  px: { bitsAllocated: number; bitsStored: number; signed: boolean; photometric: string },
): Float32Array {
  const { bitsAllocated, bitsStored, signed, photometric } = px;
  // Stored word → stored value (BitsStored, sign).
  const mask = (2 ** bitsStored) - 1, sign = 2 ** (bitsStored - 1);
  const stored = (w: number) => {
    const v = w & mask;
    return signed && v & sign ? v - 2 * sign : v;
  };
  const slope = firstNumber(ds, "x00281053") ?? 1;
  const intercept = firstNumber(ds, "x00281052") ?? 0;
  const center = firstNumber(ds, "x00281050");
  const width = firstNumber(ds, "x00281051");
  // A zero or non-finite rescale would make every pixel equal (or NaN): refuse it instead of training on it.
  if (!Number.isFinite(slope) || slope === 0) {
    throw new DataError(
      name,
      `RescaleSlope (0028,1053) is ${slope}`,
      "the header is damaged: the slope must be a finite non-zero number (remove the tag to use 1)",
    );
  }
  if (!Number.isFinite(intercept)) {
    throw new DataError(name, `RescaleIntercept (0028,1052) is ${intercept}`, "it must be a finite number");
  }
  if ((center !== undefined && !Number.isFinite(center)) || (width !== undefined && !Number.isFinite(width))) {
    throw new DataError(
      name,
      `WindowCenter/WindowWidth (0028,1050/1051) are ${center}/${width}`,
      "they must be finite numbers (remove them to use the full range)",
    );
  }
  // Modality LUT (PS3.3 C.11.1): the sequence when present, else the rescale.
  const modalityLut = readLut(ds, "x00283000", name, "Modality LUT Sequence (0028,3000)");
  const modality = modalityLut ? (v: number) => modalityLut.at(v) : (v: number) => v * slope + intercept;
  const fn = (ds.string("x00281056") ?? "LINEAR").trim().toUpperCase();
  const voiLut = readLut(ds, "x00283010", name, "VOI LUT Sequence (0028,3010)");
  // The whole chain (stored value → modality → VOI → [0, 1], MONOCHROME1 inverted) as one table over every possible
  // stored word: one lookup per pixel.
  let voi: (x: number) => number;
  if (center !== undefined && width !== undefined && (width >= 1 || (fn !== "LINEAR" && width > 0))) {
    if (fn === "SIGMOID") {
      voi = (x) => 1 / (1 + Math.exp(-4 * (x - center) / width)); // PS3.3 C.11.2.1.3.1
    } else if (fn === "LINEAR_EXACT") {
      voi = (x) => Math.min(1, Math.max(0, (x - center) / width + 0.5)); // PS3.3 C.11.2.1.3.2
    } else {
      const c = center - 0.5, w = width - 1; // PS3.3 C.11.2.1.2.1 linear window
      voi = (x) => x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
    }
  } else if (voiLut) {
    voi = (x) => voiLut.at(x) / voiLut.max;
  } else {
    const lo = signed ? -(2 ** (bitsStored - 1)) : 0;
    const hi = signed ? 2 ** (bitsStored - 1) - 1 : 2 ** bitsStored - 1;
    let a = Infinity, b = -Infinity;
    if (modalityLut) {
      for (const v of modalityLut.data) (a = Math.min(a, v)), (b = Math.max(b, v));
    } else {
      a = Math.min(modality(lo), modality(hi));
      b = Math.max(modality(lo), modality(hi));
    }
    voi = (x) => b > a ? Math.min(1, Math.max(0, (x - a) / (b - a))) : 0;
  }
  const invert = photometric === "MONOCHROME1";
  const table = new Float32Array(2 ** bitsAllocated);
  for (let w = 0; w < table.length; w++) {
    const v = voi(modality(stored(w)));
    table[w] = invert ? 1 - v : v;
  }
  return table;
}

/** A lookup table from a Modality or VOI LUT Sequence's first item (PS3.3 C.11.1, C.11.2). */
interface Lut {
  data: Uint16Array;
  /** The largest value an entry can hold (2^bits − 1). */
  max: number;
  /** The entry for an input value: inputs below the first mapped value take the first, above the range the last. */
  at(v: number): number;
}

function readLut(ds: dicomParser.DataSet, tag: string, name: string, what: string): Lut | undefined {
  const item = ds.elements[tag]?.items?.[0]?.dataSet;
  if (!item) return undefined;
  const desc = item.elements.x00283002, lut = item.elements.x00283006;
  if (!desc || !lut) throw new DataError(name, `${what} has no LUT Descriptor or LUT Data`, "the header is damaged");
  // The descriptor is US or SS by VR; its first mapped value is signed for signed pixel data.
  const entries = item.uint16("x00283002", 0) || 65536;
  const firstMapped = desc.vr === "SS" ? item.int16("x00283002", 1)! : item.uint16("x00283002", 1)!;
  const bits = item.uint16("x00283002", 2)!;
  if (!(bits >= 8 && bits <= 16) || lut.length < entries) {
    throw new DataError(
      name,
      `${what}: ${entries} entries of ${bits} bits do not fit its LUT Data`,
      "the header is damaged",
    );
  }
  const data = new Uint16Array(entries);
  const wide = lut.length >= entries * 2;
  for (let i = 0; i < entries; i++) data[i] = wide ? item.uint16("x00283006", i)! : item.byteArray[lut.dataOffset + i];
  return {
    data,
    max: 2 ** bits - 1,
    at: (v) => data[Math.min(entries - 1, Math.max(0, Math.round(v) - firstMapped))],
  };
}
