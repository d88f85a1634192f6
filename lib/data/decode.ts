/**
 * Decoding of PNG (8/16-bit gray, gray+alpha, RGB, RGBA, palette), JPEG and DICOM into one grayscale plane.
 *
 * Conventions (documented choices):
 * - PNG/JPEG: values are divided by the format maximum (255 or 65535) → [0, 1]. Colour is converted to
 *   luminance with Rec. 601 weights (0.299 R + 0.587 G + 0.114 B); alpha is ignored.
 * - DICOM (single-frame grayscale; the transfer syntaxes of `TRANSFER_SYNTAXES` in dicom_pixels.ts: native,
 *   deflated, RLE, JPEG baseline/lossless, JPEG-LS, JPEG 2000): stored values → the Modality LUT (RescaleSlope·v +
 *   RescaleIntercept, or the Modality LUT Sequence); then the VOI: WindowCenter/WindowWidth (the first pair) with
 *   VOILUTFunction LINEAR, LINEAR_EXACT or SIGMOID (PS3.3 C.11.2.1.2–3), else the first VOI LUT Sequence item, else
 *   the range of `BitsStored` (after rescale), maps to [0, 1]. MONOCHROME1 is inverted (1 − v) so bone is bright, as
 *   in MONOCHROME2. Multi-frame and colour DICOM are refused with the reason.
 *
 * @module
 */
import { decode as decodePngRaw } from "fast-png";
import jpeg from "jpeg-js";
import dicomParser from "dicom-parser";
import { DataError } from "./errors.ts";
import { dicomInflater, storedSamples, TRANSFER_SYNTAXES } from "./dicom_pixels.ts";
import { firstNumber, valueTable } from "./dicom_values.ts";

/** One decoded grayscale image. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Row-major intensities in [0, 1]. */
  data: Float32Array;
  /** Source format. */
  format: "png" | "jpeg" | "dicom";
  /** Bits per sample of the source (8, 12, 16 …). */
  bitDepth: number;
  /**
   * DICOM: the distance between pixel centres in millimetres, `[row, column]`, from Pixel Spacing (0028,0030), else
   * Imager Pixel Spacing (0018,1164). Absent when the file gives none (and for PNG and JPEG).
   */
  pixelSpacing?: [number, number];
  /**
   * The image's own size when `data` holds it at a reduced resolution (a JPEG 2000 or HTJ2K DICOM decoded with
   * {@linkcode DecodeOptions.minSide}); absent when `width × height` is the image's own size. Masks and maps that
   * belong to the image use this size; `pixelSpacing` refers to it.
   */
  fullSize?: { width: number; height: number };
}

/** Options of {@linkcode decodeImageBytes}. */
export interface DecodeOptions {
  /** Largest width × height, checked from the header before decoding. Default 64 million. */
  maxPixels?: number;
  /**
   * JPEG 2000 and HTJ2K DICOM: decode at the coarsest resolution level whose sides are still at least this many
   * pixels, and say so in `fullSize` (a JPEG 2000 codestream is a wavelet pyramid: a 2048² X-ray decodes at 512² in
   * a sixteenth of the time). Other formats decode in full. Default 0: full resolution.
   */
  minSide?: number;
}

/** Detects the file format from magic bytes. */
export function sniffFormat(bytes: Uint8Array): "png" | "jpeg" | "dicom" | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return "png";
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (
    bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  ) return "dicom";
  return undefined;
}

/**
 * Decodes PNG, JPEG or DICOM bytes to a grayscale plane in [0, 1].
 *
 * @example
 * ```ts
 * import { decodeImageBytes, encodeGrayPng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const png = encodeGrayPng(new Float32Array([0, 1, 0.5, 0.25]), 2, 2);
 * const img = decodeImageBytes(png, "tiny.png");
 * assert.equal(img.width, 2);
 * assert.equal(img.data[1], 1);
 * ```
 * @param bytes the file's bytes
 * @param name the file name used in error messages
 * @param opts the pixel limit (a number is taken as `maxPixels`), and JPEG 2000's reduced-resolution decode
 * @returns the decoded plane
 * @throws {DataError} for empty, truncated, oversized or unsupported files
 */
export function decodeImageBytes(bytes: Uint8Array, name: string, opts: DecodeOptions | number = {}): DecodedImage {
  const { maxPixels = 64e6, minSide = 0 } = typeof opts === "number" ? { maxPixels: opts } : opts;
  if (bytes.length === 0) {
    throw new DataError(name, "file is empty (0 bytes)", "re-export or re-download it, or remove it from the manifest");
  }
  const format = sniffFormat(bytes);
  if (!format) {
    throw new DataError(
      name,
      "unsupported format (not PNG, JPEG or DICOM Part 10 by its first bytes)",
      "convert it to PNG, or fix the path in the manifest",
    );
  }
  const tooLarge = (w: number, h: number) => {
    if (w * h > maxPixels) {
      throw new DataError(
        name,
        `the header declares ${w}×${h} pixels, more than the limit of ${(maxPixels / 1e6).toFixed(0)} million`,
        "if it is a real image, raise the limit (--max-pixels, or setInputLimits)",
      );
    }
  };
  try {
    if (format === "png") {
      // IHDR: width and height, big-endian, at bytes 16 and 20.
      if (bytes.length >= 24) {
        const v = new DataView(bytes.buffer, bytes.byteOffset);
        tooLarge(v.getUint32(16), v.getUint32(20));
      }
      return decodePng(bytes);
    }
    if (format === "jpeg") return decodeJpeg(bytes, maxPixels, tooLarge);
    return decodeDicom(bytes, name, tooLarge, minSide);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(
      name,
      `cannot decode ${format.toUpperCase()} (${(e as Error).message}); the file may be truncated or corrupt`,
      "re-export or re-download it, or pass --skip-bad to skip bad files",
    );
  }
}

function decodePng(bytes: Uint8Array): DecodedImage {
  const png = decodePngRaw(bytes);
  const { width, height } = png;
  const channels = png.channels;
  const n = width * height;
  const out = new Float32Array(n);
  let src = png.data as Uint8Array | Uint16Array;
  if (png.depth < 8 && src.length < n * channels) src = unpackBits(src as Uint8Array, width, height, png.depth);
  if (src.length < n * channels) throw new Error("pixel data is shorter than width × height");
  if (png.palette) {
    const pal = png.palette as number[][];
    // fast-png returns palette indices; depth may be < 8 but indices are unpacked per pixel.
    for (let i = 0; i < n; i++) {
      const c = pal[src[i]] ?? [0, 0, 0];
      out[i] = (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255;
    }
    return { width, height, data: out, format: "png", bitDepth: 8 };
  }
  const max = png.depth === 16 ? 65535 : (1 << png.depth) - 1;
  if (channels <= 2) {
    for (let i = 0; i < n; i++) out[i] = src[i * channels] / max;
  } else {
    for (let i = 0; i < n; i++) {
      const o = i * channels;
      out[i] = (0.299 * src[o] + 0.587 * src[o + 1] + 0.114 * src[o + 2]) / max;
    }
  }
  return { width, height, data: out, format: "png", bitDepth: png.depth };
}

/** Unpacks 1-, 2- or 4-bit samples (rows padded to whole bytes, most significant bits first) to one byte each. */
function unpackBits(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const rowBytes = Math.ceil((width * depth) / 8), mask = (1 << depth) - 1;
  if (packed.length < rowBytes * height) throw new Error("pixel data is shorter than width × height");
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (packed[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function decodeJpeg(bytes: Uint8Array, maxPixels: number, tooLarge: (w: number, h: number) => void): DecodedImage {
  const sof = jpegSize(bytes);
  if (sof) tooLarge(sof.width, sof.height);
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxMemoryUsageInMB: 1024,
    maxResolutionInMP: maxPixels / 1e6,
  });
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    out[i] = (0.299 * d[i * 4] + 0.587 * d[i * 4 + 1] + 0.114 * d[i * 4 + 2]) / 255;
  }
  return { width: img.width, height: img.height, data: out, format: "jpeg", bitDepth: 8 };
}

/** Width and height from a JPEG's first SOF marker, or `undefined` when none is found. */
function jpegSize(b: Uint8Array): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    const len = (b[i + 2] << 8) | b[i + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] };
    }
    i += 2 + len;
  }
  return undefined;
}

function decodeDicom(
  bytes: Uint8Array,
  name: string,
  tooLarge: (w: number, h: number) => void,
  minSide: number,
): DecodedImage {
  const ds = dicomParser.parseDicom(bytes, { inflater: dicomInflater });
  const syntax = (ds.string("x00020010") ?? "").replace(/\0/g, "").trim();
  if (!TRANSFER_SYNTAXES[syntax]) {
    throw new DataError(
      name,
      `unsupported transfer syntax ${syntax || "(none)"}`,
      "convert it first, e.g. `gdcmconv --raw in.dcm out.dcm` or `dcmdjpeg in.dcm out.dcm`",
    );
  }
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  const samples = ds.uint16("x00280002") ?? 1;
  const bitsAllocated = ds.uint16("x00280100") ?? 16;
  const bitsStored = ds.uint16("x00280101") ?? bitsAllocated;
  const signed = (ds.uint16("x00280103") ?? 0) === 1;
  const photometric = (ds.string("x00280004") ?? "MONOCHROME2").trim();
  const frames = firstNumber(ds, "x00280008") ?? 1;
  const el = ds.elements.x7fe00010;
  if (!rows || !cols || !el) throw new Error("missing Rows, Columns or PixelData");
  tooLarge(cols, rows);
  if (samples !== 1 || !photometric.startsWith("MONOCHROME")) {
    throw new DataError(
      name,
      `unsupported DICOM photometric interpretation ${photometric} with ${samples} samples per pixel`,
      "export the X-ray as MONOCHROME1/MONOCHROME2 grayscale",
    );
  }
  if (frames !== 1) {
    throw new DataError(
      name,
      `a multi-frame DICOM (NumberOfFrames ${frames}); appaunet reads single-frame X-rays`,
      "export the frame you want, e.g. `dcm2pnm --frame 1 +on2 in.dcm frame.png` (a 16-bit PNG)",
    );
  }
  const n = rows * cols;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new DataError(name, `unsupported BitsAllocated ${bitsAllocated}`, "export with 8 or 16 bits allocated");
  }
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated)) {
    throw new DataError(
      name,
      `BitsStored (0028,0101) is ${bitsStored} with BitsAllocated ${bitsAllocated}`,
      "the header is damaged: BitsStored must be between 1 and BitsAllocated",
    );
  }
  const frame = storedSamples(ds, syntax, { rows, cols, bitsAllocated, bitsStored, signed }, name, minSide);
  const words = frame.samples, m = frame.width * frame.height;
  const table = valueTable(ds, name, { bitsAllocated, bitsStored, signed, photometric });
  const out = new Float32Array(m);
  for (let i = 0; i < m; i++) out[i] = table[words[i]];
  const spacing = (ds.string("x00280030") ?? ds.string("x00181164") ?? "").split("\\").map((v) => Number(v.trim()));
  const pixelSpacing = spacing.length === 2 && spacing.every((v) => Number.isFinite(v) && v > 0)
    ? [spacing[0], spacing[1]] as [number, number]
    : undefined;
  return {
    width: frame.width,
    height: frame.height,
    data: out,
    format: "dicom",
    bitDepth: bitsStored,
    ...(pixelSpacing ? { pixelSpacing } : {}),
    ...(m < n ? { fullSize: { width: cols, height: rows } } : {}),
  };
}
