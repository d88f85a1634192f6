/**
 * The pixels of a DICOM image as archives store them: the transfer syntaxes appaunet reads, and the stored sample
 * values of a single-frame image under each of them.
 *
 * - Native: implicit and explicit VR little endian, explicit VR big endian (samples byte-swapped), deflated explicit
 *   VR little endian (inflated by `dicomInflater`, with npm `fflate`).
 * - JPEG lossless (process 14, any predictor incl. SV1) and JPEG extended with 12-bit samples (process 4): IJG
 *   libjpeg built for 8, 12 and 16 bits, as dcmtk uses it, inside npm `dcmjs-codecs` (WebAssembly; libjpeg-turbo's
 *   published build is 8-bit only, and no other maintained package decodes 12-bit lossy JPEG). JPEG lossless falls back
 *   to npm `jpeg-lossless-decoder-js` (pure JavaScript, ≈ 4× slower) where that WebAssembly cannot load.
 * - JPEG baseline and extended with 8-bit samples, JPEG-LS (lossless and near-lossless), JPEG 2000 (lossless and
 *   lossy): the WebAssembly builds of libjpeg-turbo, CharLS and OpenJPEG that the Cornerstone/OHIF viewers use
 *   (npm `@cornerstonejs/codec-*`). JPEG 2000 can be decoded at a reduced resolution level (`minSide`): the finer
 *   wavelet levels hold most of the coded data, and a model that sees 256 pixels needs none of them.
 * - The WebAssembly decoders need an asynchronous start: `loadDicomCodecs()` (dicom_codecs.ts) registers them here;
 *   `predict`, `train`, `evaluate` and `serve` load the one a file needs the first time it needs it
 *   (`withDicomCodecs`).
 * - RLE lossless (PS3.5 Annex G): decoded here. It is 40 lines of PackBits; no maintained npm package offers it on
 *   its own (the Cornerstone loader has one inside, not exported), and the tests check it pixel-identical against
 *   dcmtk's `dcmcrle`.
 * - HTJ2K (High-Throughput JPEG 2000, lossless, lossless RPCL and lossy), as cloud archives store it: the WebAssembly
 *   build of OpenJPH the Cornerstone/OHIF viewers use (npm `@cornerstonejs/codec-openjph`); reduced resolution as
 *   JPEG 2000.
 * - Not read: JPEG-XL, multi-frame images, colour.
 *
 * @module
 */
import { inflateSync } from "fflate";
import { Decoder as JpegLosslessDecoder } from "jpeg-lossless-decoder-js";
import dicomParser from "dicom-parser";
import { DataError } from "./errors.ts";

/** How to get a file appaunet cannot decode into one it can. */
const CONVERT = "convert it first, e.g. `gdcmconv --raw in.dcm out.dcm` or `dcmdjpeg in.dcm out.dcm`";

/** How a transfer syntax stores pixels. */
export type PixelEncoding =
  | "native"
  | "deflated"
  | "rle"
  | "jpeg-lossless"
  | "jpeg-baseline"
  | "jpeg-ls"
  | "jpeg-2000"
  | "htj2k";

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
  "1.2.840.10008.1.2.4.201": { name: "HTJ2K Lossless", encoding: "htj2k", lossless: true },
  "1.2.840.10008.1.2.4.202": { name: "HTJ2K Lossless RPCL", encoding: "htj2k", lossless: true },
  "1.2.840.10008.1.2.4.203": { name: "HTJ2K", encoding: "htj2k", lossless: false },
};

/** A WebAssembly decoder: {@linkcode DicomCodecs}' names. */
export type CodecName = "jpeg-baseline" | "ijg" | "jpeg-ls" | "jpeg-2000" | "htj2k";

/** What a WebAssembly decoder is told about the frame it decodes (from the DICOM header). */
export interface CodecRequest extends FrameGeometry {
  /**
   * JPEG 2000 and HTJ2K only: how many resolution levels to leave out (0: full resolution; r: each side divided by 2^r,
   * rounded up). Other decoders receive 0.
   */
  reduce: number;
}

/** A decoded frame from a WebAssembly codec: its samples and their size. */
export interface CodecFrame {
  /** Samples, row-major (one per pixel for grayscale). */
  samples: Uint8Array | Uint16Array | Int16Array;
  /** Width and height of the decoded samples. */
  width: number;
  height: number;
  /** Bits per sample the codestream declares. */
  bitsPerSample: number;
  /** Components per pixel. */
  components: number;
}

/** A DICOM file needs a WebAssembly decoder that is not registered (`withDicomCodecs` loads it and retries). */
export class DicomCodecsNeeded extends DataError {
  /** The decoder the file needs. */
  readonly codec: CodecName;
  /**
   * Creates the error.
   *
   * @param file the file
   * @param problem what is missing
   * @param fix what to do
   * @param codec the decoder it needs
   */
  constructor(file: string, problem: string, fix: string, codec: CodecName) {
    super(file, problem, fix);
    this.codec = codec;
  }
}

/** The WebAssembly decoders, registered by `loadDicomCodecs()`, by name. */
export type DicomCodecs = Record<CodecName, (codestream: Uint8Array, frame: CodecRequest) => CodecFrame>;

/** Every decoder name, in the order `loadDicomCodecs()` loads them. */
export const CODEC_NAMES: readonly CodecName[] = ["jpeg-baseline", "ijg", "jpeg-ls", "jpeg-2000", "htj2k"];

let registered: Partial<DicomCodecs> = {};
const loadFailures: Partial<Record<CodecName, string>> = {};

/**
 * Records why a decoder could not be loaded (shown when a file needs it).
 *
 * @param codec the decoder
 * @param message the loader's error
 */
export function dicomCodecFailed(codec: CodecName, message: string): void {
  loadFailures[codec] = message;
}

/**
 * Registers WebAssembly decoders (`loadDicomCodecs()` does this; a browser page may register its own).
 *
 * @param codecs decoders by name
 */
export function registerDicomCodecs(codecs: Partial<DicomCodecs>): void {
  registered = { ...registered, ...codecs };
}

/**
 * Whether the named decoders are registered.
 *
 * @param names the decoders (default: all)
 * @returns true when every one is
 */
export function dicomCodecsRegistered(names: readonly CodecName[] = CODEC_NAMES): boolean {
  return names.every((n) => registered[n] !== undefined);
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

/** The geometry and sample format the header declares. */
export interface FrameGeometry {
  rows: number;
  cols: number;
  bitsAllocated: 8 | 16;
  /** Bits Stored (0028,0101). */
  bitsStored: number;
  /** Pixel Representation (0028,0103) is 1 (two's complement samples). */
  signed: boolean;
}

/** Stored sample words and the size they were decoded at. */
export interface StoredFrame {
  /** `width × height` words, row-major. */
  samples: Uint8Array | Uint16Array;
  /** Columns decoded: the header's, or fewer for a JPEG 2000 frame decoded at a reduced resolution. */
  width: number;
  /** Rows decoded (see `width`). */
  height: number;
}

/**
 * The stored sample words of a single-frame grayscale DICOM image (before masking to BitsStored and sign extension),
 * decoded from the transfer syntax.
 *
 * @param ds the parsed data set (`parseDicom(bytes, { inflater: dicomInflater })`)
 * @param syntax the transfer syntax UID
 * @param g rows, columns and the sample format
 * @param name the file, for errors
 * @param minSide JPEG 2000 and HTJ2K only: decode at the coarsest resolution level whose sides are still at least
 *   this many pixels (0, the default: full resolution). Other syntaxes always decode in full.
 * @returns the samples and the size they have
 * @throws {DataError} for a syntax not read, a codec not loaded, or a frame that does not match the header
 */
export function storedSamples(
  ds: dicomParser.DataSet,
  syntax: string,
  g: FrameGeometry,
  name: string,
  minSide = 0,
): StoredFrame {
  const ts = TRANSFER_SYNTAXES[syntax];
  if (!ts) throw new DataError(name, `unsupported transfer syntax ${syntax || "(none)"}`, CONVERT);
  const el = ds.elements.x7fe00010;
  const n = g.rows * g.cols;
  const full = (samples: Uint8Array | Uint16Array): StoredFrame => ({ samples, width: g.cols, height: g.rows });
  if (ts.encoding === "native" || ts.encoding === "deflated") {
    const bytesPer = g.bitsAllocated / 8;
    if (el.length < n * bytesPer || el.dataOffset + n * bytesPer > ds.byteArray.length) {
      throw new Error("PixelData is shorter than Rows × Columns");
    }
    const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, n * bytesPer);
    if (g.bitsAllocated === 8) return full(new Uint8Array(view.buffer, view.byteOffset, n).slice());
    const littleEndian = syntax !== "1.2.840.10008.1.2.2";
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, littleEndian);
    return full(out);
  }
  if (!el.encapsulatedPixelData || !el.fragments?.length) {
    throw new Error(`PixelData is not encapsulated, as ${ts.name} requires`);
  }
  const codestream = dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, el.fragments.length);
  if (ts.encoding === "rle") return full(decodeRle(codestream, g));
  // JPEG lossless through IJG libjpeg (WebAssembly, ≈ 4× faster); the pure-JavaScript decoder when it cannot load.
  if (ts.encoding === "jpeg-lossless" && (registered.ijg || !loadFailures.ijg)) {
    return codecSamples(codestream, ts, g, name, minSide);
  }
  if (ts.encoding === "jpeg-lossless") {
    // decompress() returns the samples' bytes (an ArrayBuffer, or a view of one).
    const out = new JpegLosslessDecoder().decompress(codestream) as unknown as ArrayBuffer | ArrayBufferView;
    const bytes = out instanceof ArrayBuffer
      ? new Uint8Array(out)
      : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    return full(fit(
      g.bitsAllocated === 8 ? bytes : new Uint16Array(bytes.slice().buffer, 0, bytes.byteLength >> 1),
      n,
      ts.name,
    ));
  }
  return codecSamples(codestream, ts, g, name, minSide);
}

/** The WebAssembly path of {@linkcode storedSamples}: the decoder the stream needs, at the resolution asked for. */
function codecSamples(
  codestream: Uint8Array,
  ts: TransferSyntax,
  g: FrameGeometry,
  name: string,
  minSide: number,
): StoredFrame {
  // JPEG with 12-bit samples (extended, process 4) and JPEG lossless go to IJG libjpeg's 12/16-bit builds.
  const codecName: CodecName = ts.encoding === "jpeg-lossless" ||
      (ts.encoding === "jpeg-baseline" && jpegPrecision(codestream) > 8)
    ? "ijg"
    : ts.encoding as CodecName;
  const codec = registered[codecName];
  if (!codec) {
    const failure = loadFailures[codecName];
    throw new DicomCodecsNeeded(
      name,
      `${ts.name} needs a WebAssembly decoder (${codecName}), which is not loaded${failure ? ` (${failure})` : ""}`,
      "call `await loadDicomCodecs()` before decoding (predict, train, eval and serve load it when a file needs it), " +
        "or " + CONVERT,
      codecName,
    );
  }
  // HTJ2K (JPEG 2000 Part 15) keeps Part 1's codestream markers and wavelet levels.
  const j2k = codecName === "jpeg-2000" || codecName === "htj2k" ? j2kLayout(codestream) : undefined;
  let reduce = 0;
  if (j2k && minSide > 0) {
    while (
      reduce < j2k.levels &&
      Math.min(j2k.sideAt(reduce + 1).width, j2k.sideAt(reduce + 1).height) >= minSide
    ) reduce++;
  }
  let f: CodecFrame;
  try {
    f = codec(codestream, { ...g, reduce });
  } catch (e) {
    if (reduce === 0) throw e;
    // A tile may code fewer levels than the main header says: decode it in full instead.
    (reduce = 0), (f = codec(codestream, { ...g, reduce }));
  }
  const want = reduce > 0 ? j2k!.sideAt(reduce) : { width: g.cols, height: g.rows };
  // After a reduced decode the codec reports the full size; its sample count must then match the reduced one.
  if (f.width !== g.cols || f.height !== g.rows || f.components !== 1) {
    throw new Error(
      `the ${ts.name} codestream is ${f.width}×${f.height}×${f.components}, the header says ${g.cols}×${g.rows}×1`,
    );
  }
  const s = f.samples;
  if (reduce > 0 && s.length !== want.width * want.height) {
    throw new Error(
      `the ${ts.name} frame at 1/${2 ** reduce} holds ${s.length} samples, not ${want.width}×${want.height}`,
    );
  }
  const samples = fit(
    f.bitsPerSample <= 8
      ? new Uint8Array(s.buffer, s.byteOffset, s.length)
      : new Uint16Array(s.buffer, s.byteOffset, s.length),
    want.width * want.height,
    reduce > 0 ? `${ts.name} (at 1/${2 ** reduce}, ${want.width}×${want.height})` : ts.name,
  );
  return { samples, ...want };
}

/**
 * A JPEG 2000 codestream's main header: how many wavelet levels it has (the fewest any COD or COC marker declares)
 * and the image's size at each reduction (PS3.5 A.4.4; ISO 15444-1 B.5: a level-r image spans
 * ⌈X/2^r⌉ − ⌈XO/2^r⌉ columns). `undefined` when the stream is not a raw codestream (e.g. a JP2 file).
 */
function j2kLayout(
  b: Uint8Array,
): { levels: number; sideAt(r: number): { width: number; height: number } } | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0x4f) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let i = 2, levels = Infinity;
  let size: { x: number; y: number; x0: number; y0: number } | undefined;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const marker = b[i + 1], len = v.getUint16(i + 2);
    if (marker === 0x90 || marker === 0x93) break; // SOT / SOD: the main header ends
    if (marker === 0x51 && i + 22 <= b.length) {
      size = { x: v.getUint32(i + 6), y: v.getUint32(i + 10), x0: v.getUint32(i + 14), y0: v.getUint32(i + 18) };
    } else if (marker === 0x52 && i + 10 <= b.length) levels = Math.min(levels, b[i + 9]); // COD: SPcod[0]
    // COC (one component, so a 1-byte component index): SPcoc[0]
    else if (marker === 0x53 && i + 7 <= b.length) levels = Math.min(levels, b[i + 6]);
    i += 2 + len;
  }
  if (!size || !Number.isFinite(levels)) return undefined;
  const s = size;
  const at = (a: number, r: number) => Math.ceil(a / 2 ** r);
  return {
    levels,
    sideAt: (r) => ({ width: at(s.x, r) - at(s.x0, r), height: at(s.y, r) - at(s.y0, r) }),
  };
}

function fit<T extends Uint8Array | Uint16Array>(s: T, n: number, what: string): T {
  if (s.length < n) throw new Error(`the ${what} frame holds ${s.length} samples, fewer than its ${n} pixels`);
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
