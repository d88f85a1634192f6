/**
 * `loadDicomCodecs()`: starts the WebAssembly DICOM decoders and registers them with the DICOM reader: the builds of
 * libjpeg-turbo, CharLS, OpenJPEG and OpenJPH (HTJ2K) that the Cornerstone/OHIF viewers use (npm
 * `@cornerstonejs/codec-*`), and the IJG libjpeg of npm `dcmjs-codecs` for 12-bit and lossless JPEG. Kept apart from
 * the reader so that importing the library loads no WebAssembly; each decoder loads on its own, when asked for.
 *
 * @module
 */
import {
  CODEC_NAMES,
  type CodecFrame,
  type CodecName,
  type CodecRequest,
  dicomCodecFailed,
  DicomCodecsNeeded,
  dicomCodecsRegistered,
  registerDicomCodecs,
} from "./dicom_pixels.ts";

/** The part of an Emscripten codec decoder these wrappers use. */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  /** OpenJPEG and OpenJPH only: decode without the `level` finest wavelet levels (`layer` 0: all quality layers). */
  decodeSubResolution?(level: number, layer: number): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
type CodecModule = Record<string, new () => WasmDecoder>;
type Factory = (opts?: Record<string, unknown>) => Promise<CodecModule>;
type Decode = (codestream: Uint8Array, frame: CodecRequest) => CodecFrame;

const loading: Partial<Record<CodecName, Promise<void>>> = {};
const located: Record<string, string> = {};

/** Options of {@linkcode loadDicomCodecs}. */
export interface LoadDicomCodecsOptions {
  /**
   * Where the `.wasm` files are fetched from, as a URL prefix (a browser page: e.g. `"/codecs/"`, which `serve`
   * answers). Default: beside each codec's JavaScript (the npm package's own folder; right for Deno).
   */
  wasmBase?: string;
  /**
   * Which decoders to load: `"jpeg-baseline"` (8-bit JPEG), `"ijg"` (12-bit and lossless JPEG), `"jpeg-ls"`,
   * `"jpeg-2000"`, `"htj2k"`. Default: all of them.
   */
  codecs?: readonly CodecName[];
}

/**
 * The WebAssembly files the loaded decoders were read from, by file name (for a server that hands them to a page).
 *
 * @returns file name → path or URL
 */
export function dicomCodecWasmFiles(): Record<string, string> {
  return { ...located };
}

/** A Cornerstone decoder (`getEncodedBuffer`, `decode`, `getDecodedBuffer`) as a registry entry. */
function wrap(module: CodecModule, decoderName: string): Decode {
  return (codestream, frame) => {
    const d = new module[decoderName]();
    try {
      d.getEncodedBuffer(codestream.length).set(codestream);
      // OpenJPEG, OpenJPH: leave out the `reduce` finest wavelet levels (decodeSubResolution(level, layer)).
      if (frame.reduce > 0 && d.decodeSubResolution) d.decodeSubResolution(frame.reduce, 0);
      else d.decode();
      const info = d.getFrameInfo();
      const raw = d.getDecodedBuffer();
      // Copy out of the WebAssembly heap before the decoder is freed.
      const samples = info.bitsPerSample > 8
        ? new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + (raw.length & ~1)))
        : raw.slice();
      // getFrameInfo() gives the full size even after a reduced decode: the reader checks the sample count then.
      return {
        samples,
        width: info.width,
        height: info.height,
        bitsPerSample: info.bitsPerSample,
        components: info.componentCount,
      };
    } finally {
      d.delete();
    }
  };
}

/** Loads a Cornerstone codec package's Emscripten module, silenced, recording where its `.wasm` came from. */
async function cornerstone(load: () => Promise<{ default: unknown }>, wasmBase?: string): Promise<CodecModule> {
  // The codecs log to stdout (OpenJPEG's "[INFO] ..."); keep stdout for appaunet's own output.
  const quiet = {
    print: () => {},
    printErr: () => {},
    locateFile: (file: string, dir: string) => (located[file] = wasmBase ? wasmBase + file : dir + file),
  };
  return await ((await load()).default as Factory)(quiet);
}

/** `dcmjs-codecs`' JavaScript face: a frame context and the decoders over it. */
interface DcmjsCodecs {
  NativeCodecs: {
    initializeAsync(opts: { webAssemblyModulePathOrUrl?: string }): Promise<void>;
    decodeJpeg(ctx: unknown): { getDecodedBuffer(): Uint8Array; getWidth(): number; getHeight(): number };
  };
  Context: new (attrs: Record<string, unknown>) => unknown;
}

const DCMJS_WASM = "dcmjs-native-codecs.wasm";

/**
 * 12-bit and lossless JPEG through `dcmjs-codecs` (its WebAssembly holds IJG libjpeg built for 8, 12 and 16 bits, as
 * dcmtk uses it).
 */
async function dcmjsIjg(wasmBase?: string): Promise<Decode> {
  const { NativeCodecs, Context } = (await import("dcmjs-codecs")).default as unknown as DcmjsCodecs;
  let wasm = wasmBase ? wasmBase + DCMJS_WASM : undefined;
  if (!wasm) {
    // Deno: the package folder in the npm cache (the package finds it itself; the server needs the path to hand on).
    try {
      const url = new URL(DCMJS_WASM, import.meta.resolve("dcmjs-codecs"));
      if (url.protocol === "file:") wasm = decodeURIComponent(url.pathname);
    } catch { /* not resolvable here (a bundle): the package looks beside itself */ }
  }
  await NativeCodecs.initializeAsync({ webAssemblyModulePathOrUrl: wasm });
  if (wasm) located[DCMJS_WASM] = wasm;
  return (codestream, f) => {
    const out = NativeCodecs.decodeJpeg(
      new Context({
        width: f.cols,
        height: f.rows,
        bitsAllocated: f.bitsAllocated,
        bitsStored: f.bitsStored,
        samplesPerPixel: 1,
        pixelRepresentation: f.signed ? 1 : 0,
        photometricInterpretation: "MONOCHROME2",
        encodedBuffer: codestream,
      }),
    );
    const raw = out.getDecodedBuffer();
    const bytes = raw.slice(); // aligned, and out of the WebAssembly heap
    return {
      samples: f.bitsAllocated > 8 ? new Uint16Array(bytes.buffer, 0, bytes.length >> 1) : bytes,
      width: out.getWidth(),
      height: out.getHeight(),
      bitsPerSample: f.bitsAllocated > 8 ? 16 : 8,
      components: 1,
    };
  };
}

const LOADERS: Record<CodecName, (wasmBase?: string) => Promise<Decode>> = {
  "jpeg-baseline": async (base) =>
    wrap(await cornerstone(() => import("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs"), base), "JPEGDecoder"),
  ijg: dcmjsIjg,
  "jpeg-ls": async (base) =>
    wrap(await cornerstone(() => import("@cornerstonejs/codec-charls/decodewasmjs"), base), "JpegLSDecoder"),
  "jpeg-2000": async (base) =>
    wrap(await cornerstone(() => import("@cornerstonejs/codec-openjpeg/decodewasmjs"), base), "J2KDecoder"),
  htj2k: async (base) =>
    wrap(await cornerstone(() => import("@cornerstonejs/codec-openjph/wasmjs"), base), "HTJ2KDecoder"),
};

/**
 * Loads and registers WebAssembly DICOM decoders (each once; later calls return at once). `predict`, `train`,
 * `evaluate` and `serve` load the one a file needs when it needs it (`withDicomCodecs`); call this yourself before
 * `decodeImageBytes` on JPEG, JPEG-LS, JPEG 2000 or HTJ2K DICOM.
 *
 * @example
 * ```ts
 * import { loadDicomCodecs } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await loadDicomCodecs({ codecs: ["jpeg-ls"] });
 * await loadDicomCodecs({ codecs: ["jpeg-ls"] }); // already loaded
 * assert.ok(true);
 * ```
 * @param opts where the `.wasm` files are (browsers), which decoders
 * @returns when the decoders are registered
 * @throws {Error} naming the decoder that could not start
 */
export async function loadDicomCodecs(opts: LoadDicomCodecsOptions = {}): Promise<void> {
  const names = opts.codecs ?? CODEC_NAMES;
  // Every decoder asked for gets its try before the first failure is reported.
  const results = await Promise.allSettled(names.map((name) => {
    if (dicomCodecsRegistered([name])) return;
    return loading[name] ??= LOADERS[name](opts.wasmBase).then(
      (decode) => registerDicomCodecs({ [name]: decode }),
      (e) => {
        delete loading[name];
        const message = `cannot load the DICOM decoder ${name} (WebAssembly): ${(e as Error).message}`;
        dicomCodecFailed(name, message);
        throw new Error(message);
      },
    );
  }));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/**
 * Runs a synchronous decode; when it meets a compressed DICOM whose decoder is not loaded yet, loads that decoder
 * (once) and runs it again. Readers that may meet DICOM (`train`'s dataset, `predict`, `serve`, the page) decode
 * through it, so each WebAssembly decoder starts only when a file needs it. A failed start is remembered and named by
 * the file's error.
 *
 * @example
 * ```ts
 * import { decodeImageBytes, encodeGrayPng, withDicomCodecs } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const png = encodeGrayPng(new Float32Array([0, 1, 0.5, 0.25]), 2, 2);
 * const img = await withDicomCodecs(() => decodeImageBytes(png, "tiny.png")); // a PNG loads nothing
 * assert.equal(img.width, 2);
 * ```
 * @param decode the decode to run
 * @param opts where the `.wasm` files are (browsers)
 * @returns what it returns
 */
export async function withDicomCodecs<T>(
  decode: () => T,
  opts: Pick<LoadDicomCodecsOptions, "wasmBase"> = {},
): Promise<T> {
  const tried = new Set<CodecName>();
  for (;;) {
    try {
      return decode();
    } catch (e) {
      if (!(e instanceof DicomCodecsNeeded) || tried.has(e.codec)) throw e;
      tried.add(e.codec);
      await loadDicomCodecs({ ...opts, codecs: [e.codec] }).catch(() => {});
    }
  }
}
