/**
 * The pixels of a DICOM image as archives store them: the transfer syntaxes appaunet reads, and the stored sample
 * values of a single-frame image under each of them.
 *
 * - Native: implicit and explicit VR little endian, explicit VR big endian (samples byte-swapped), deflated explicit
 *   VR little endian (inflated by `dicomInflater`, with npm `fflate`).
 * - JPEG lossless (process 14, any predictor incl. SV1): npm `jpeg-lossless-decoder-js` (pure JavaScript).
 * - JPEG baseline and extended with 8-bit samples, JPEG-LS (lossless and near-lossless), JPEG 2000 (lossless and
 *   lossy): the WebAssembly builds of libjpeg-turbo, CharLS and OpenJPEG that the Cornerstone/OHIF viewers use
 *   (npm `@cornerstonejs/codec-*`). They need an asynchronous start: `loadDicomCodecs()` (dicom_codecs.ts) registers
 *   them here; `predict`, `train`, `evaluate` and `serve` load them the first time a file needs them (`withDicomCodecs`).
 * - RLE lossless (PS3.5 Annex G): decoded here. It is 40 lines of PackBits; no maintained npm package offers it on
 *   its own (the Cornerstone loader has one inside, not exported), and the tests check it pixel-identical against
 *   dcmtk's `dcmcrle`.
 * - Not read: JPEG extended with 12-bit samples (no maintained JavaScript/WebAssembly decoder is published on its own;
 *   the error says how to convert), JPEG-XL and HTJ2K, multi-frame images, colour.
 *
 * @module
 */
import { inflateSync } from "fflate";
import { Decoder as JpegLosslessDecoder } from "jpeg-lossless-decoder-js";
import dicomParser from "dicom-parser";
import { DataError } from "./errors.ts";

/** How a transfer syntax stores pixels. */
export type PixelEncoding =
  | "native"
  | "deflated"
  | "rle"
  | "jpeg-lossless"
  | "jpeg-baseline"
  | "jpeg-ls"
  | "jpeg-2000";

/** A transfer syntax appaunet reads. */
export interface TransferSyntax {
  /** Its name in PS3.6. */
  name: string;
  /** How the pixels are stored. */
  encoding: PixelEncoding;
  /** Whether decoding gives back the original pixels exactly. */
  lossless: boolean;
}

/**
 * The transfer syntaxes appaunet reads, by UID.
 *
 * @example
 * ```ts
 * import { TRANSFER_SYNTAXES } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(TRANSFER_SYNTAXES["1.2.840.10008.1.2.4.90"].encoding, "jpeg-2000");
 * assert.equal(TRANSFER_SYNTAXES["1.2.840.10008.1.2.4.91"].lossless, false);
 * ```
 */
export const TRANSFER_SYNTAXES: Readonly<Record<string, TransferSyntax>> = {
  "1.2.840.10008.1.2": { name: "Implicit VR Little Endian", encoding: "native", lossless: true },
  "1.2.840.10008.1.2.1": { name: "Explicit VR Little Endian", encoding: "native", lossless: true },
  "1.2.840.10008.1.2.2": { name: "Explicit VR Big Endian", encoding: "native", lossless: true },
  "1.2.840.10008.1.2.1.99": { name: "Deflated Explicit VR Little Endian", encoding: "deflated", lossless: true },
  "1.2.840.10008.1.2.5": { name: "RLE Lossless", encoding: "rle", lossless: true },
  "1.2.840.10008.1.2.4.50": { name: "JPEG Baseline (Process 1)", encoding: "jpeg-baseline", lossless: false },
  "1.2.840.10008.1.2.4.51": { name: "JPEG Extended (Process 2 & 4)", encoding: "jpeg-baseline", lossless: false },
  "1.2.840.10008.1.2.4.57": { name: "JPEG Lossless (Process 14)", encoding: "jpeg-lossless", lossless: true },
  "1.2.840.10008.1.2.4.70": { name: "JPEG Lossless (Process 14, SV1)", encoding: "jpeg-lossless", lossless: true },
  "1.2.840.10008.1.2.4.80": { name: "JPEG-LS Lossless", encoding: "jpeg-ls", lossless: true },
  "1.2.840.10008.1.2.4.81": { name: "JPEG-LS Near-Lossless", encoding: "jpeg-ls", lossless: false },
  "1.2.840.10008.1.2.4.90": { name: "JPEG 2000 (Lossless Only)", encoding: "jpeg-2000", lossless: true },
  "1.2.840.10008.1.2.4.91": { name: "JPEG 2000", encoding: "jpeg-2000", lossless: false },
};

/** A decoded frame from a WebAssembly codec: its samples and their size. */
export interface CodecFrame {
  /** Samples, row-major (one per pixel for grayscale). */
  samples: Uint8Array | Uint16Array | Int16Array;
  /** Width and height the codestream declares. */
  width: number;
  height: number;
  /** Bits per sample the codestream declares. */
  bitsPerSample: number;
  /** Components per pixel. */
  components: number;
}

/** A DICOM file needs the WebAssembly decoders, which are not registered (`withDicomCodecs` loads them and retries). */
export class DicomCodecsNeeded extends DataError {}

/** The WebAssembly decoders, registered by `loadDicomCodecs()`. */
export type DicomCodecs = Record<"jpeg-baseline" | "jpeg-ls" | "jpeg-2000", (codestream: Uint8Array) => CodecFrame>;

let registered: Partial<DicomCodecs> = {};
let loadFailure: string | undefined;

/**
 * Records why the decoders could not be loaded (shown when a file needs them).
 *
 * @param message the loader's error
 */
export function dicomCodecsFailed(message: string): void {
  loadFailure = message;
}

/**
 * Registers the WebAssembly decoders (`loadDicomCodecs()` does this; a browser page may register its own).
 *
 * @param codecs decoders by encoding
 */
export function registerDicomCodecs(codecs: Partial<DicomCodecs>): void {
  registered = { ...registered, ...codecs };
}

/** Whether a decoder for every WebAssembly-coded syntax is registered. */
export function dicomCodecsRegistered(): boolean {
  return Boolean(registered["jpeg-baseline"] && registered["jpeg-ls"] && registered["jpeg-2000"]);
}

/**
 * `parseDicom`'s inflater for deflated files: the header bytes as they are, the rest inflated (raw deflate).
 *
 * @param bytes the whole file
 * @param position where the deflated data set starts
 * @returns the file with its data set inflated
 */
export function dicomInflater(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateSync(bytes.subarray(position));
  const out = new Uint8Array(position + inflated.length);
  out.set(bytes.subarray(0, position));
  out.set(inflated, position);
  return out;
}

/** The geometry the header declares. */
export interface FrameGeometry {
  rows: number;
  cols: number;
  bitsAllocated: 8 | 16;
}

/**
 * The stored sample words of a single-frame grayscale DICOM image (before masking to BitsStored and sign extension):
 * `rows × cols` values as the transfer syntax stores them, decoded.
 *
 * @param ds the parsed data set (`parseDicom(bytes, { inflater: dicomInflater })`)
 * @param syntax the transfer syntax UID
 * @param g rows, columns, bits allocated
 * @param name the file, for errors
 * @returns the samples
 * @throws {DataError} for a syntax not read, a codec not loaded, or a frame that does not match the header
 */
export function storedSamples(
  ds: dicomParser.DataSet,
  syntax: string,
  g: FrameGeometry,
  name: string,
): Uint8Array | Uint16Array {
  const ts = TRANSFER_SYNTAXES[syntax];
  const convert = "convert it first, e.g. `gdcmconv --raw in.dcm out.dcm` or `dcmdjpeg in.dcm out.dcm`";
  if (!ts) throw new DataError(name, `unsupported transfer syntax ${syntax || "(none)"}`, convert);
  const el = ds.elements.x7fe00010;
  const n = g.rows * g.cols;
  if (ts.encoding === "native" || ts.encoding === "deflated") {
    const bytesPer = g.bitsAllocated / 8;
    if (el.length < n * bytesPer || el.dataOffset + n * bytesPer > ds.byteArray.length) {
      throw new Error("PixelData is shorter than Rows × Columns");
    }
    const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, n * bytesPer);
    if (g.bitsAllocated === 8) return new Uint8Array(view.buffer, view.byteOffset, n).slice();
    const littleEndian = syntax !== "1.2.840.10008.1.2.2";
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, littleEndian);
    return out;
  }
  if (!el.encapsulatedPixelData || !el.fragments?.length) {
    throw new Error(`PixelData is not encapsulated, as ${ts.name} requires`);
  }
  const codestream = dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, el.fragments.length);
  if (ts.encoding === "rle") return decodeRle(codestream, g);
  if (ts.encoding === "jpeg-lossless") {
    // decompress() returns the samples' bytes (an ArrayBuffer, or a view of one).
    const out = new JpegLosslessDecoder().decompress(codestream) as unknown as ArrayBuffer | ArrayBufferView;
    const bytes = out instanceof ArrayBuffer
      ? new Uint8Array(out)
      : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    return fit(
      g.bitsAllocated === 8 ? bytes : new Uint16Array(bytes.slice().buffer, 0, bytes.byteLength >> 1),
      n,
      ts.name,
    );
  }
  const codec = registered[ts.encoding];
  if (!codec) {
    throw new DicomCodecsNeeded(
      name,
      `${ts.name} needs the WebAssembly decoders, which are not loaded${loadFailure ? ` (${loadFailure})` : ""}`,
      "call `await loadDicomCodecs()` before decoding (predict, train, eval and serve do it when a file needs them), or " +
        convert,
    );
  }
  if (syntax === "1.2.840.10008.1.2.4.51" && jpegPrecision(codestream) > 8) {
    throw new DataError(
      name,
      "JPEG Extended with 12-bit samples is not supported (no maintained JavaScript/WebAssembly decoder)",
      convert,
    );
  }
  const f = codec(codestream);
  if (f.width !== g.cols || f.height !== g.rows || f.components !== 1) {
    throw new Error(
      `the ${ts.name} codestream is ${f.width}×${f.height}×${f.components}, the header says ${g.cols}×${g.rows}×1`,
    );
  }
  const s = f.samples;
  return fit(
    f.bitsPerSample <= 8
      ? new Uint8Array(s.buffer, s.byteOffset, s.length)
      : new Uint16Array(s.buffer, s.byteOffset, s.length),
    n,
    ts.name,
  );
}

function fit<T extends Uint8Array | Uint16Array>(s: T, n: number, what: string): T {
  if (s.length < n) throw new Error(`the ${what} frame holds ${s.length} samples, fewer than Rows × Columns = ${n}`);
  return s.length === n ? s : s.subarray(0, n) as T;
}

/** The sample precision of a JPEG codestream's first SOF marker (8 when none is found). */
function jpegPrecision(b: Uint8Array): number {
  let i = 2;
  while (i + 4 < b.length) {
    if (b[i] !== 0xff) return 8;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return b[i + 4];
    i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  return 8;
}

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, one PackBits segment per byte plane, most
 * significant first.
 */
function decodeRle(frame: Uint8Array, g: FrameGeometry): Uint8Array | Uint16Array {
  const n = g.rows * g.cols, planes = g.bitsAllocated / 8;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 64) throw new Error("the RLE frame is shorter than its 64-byte header");
  const segments = view.getUint32(0, true);
  if (segments !== planes) throw new Error(`the RLE frame has ${segments} segments, expected ${planes} (grayscale)`);
  const out = planes === 1 ? new Uint8Array(n) : new Uint16Array(n);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    if (!(start >= 64 && start <= end && end <= frame.length)) throw new Error(`RLE segment ${s + 1} is out of range`);
    const shift = 8 * (planes - 1 - s);
    let i = start, o = 0;
    while (i < end && o < n) {
      const h = (frame[i++] << 24) >> 24; // signed byte
      if (h >= 0) {
        for (let k = 0; k <= h && o < n && i < end; k++) out[o++] |= frame[i++] << shift;
      } else if (h !== -128) {
        const v = frame[i++] << shift;
        for (let k = 0; k < 1 - h && o < n; k++) out[o++] |= v;
      }
    }
    if (o < n) throw new Error(`RLE segment ${s + 1} ends after ${o} of ${n} pixels`);
  }
  return out;
}
