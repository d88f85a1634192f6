/**
 * `loadDicomCodecs()`: starts the WebAssembly builds of libjpeg-turbo, CharLS and OpenJPEG (npm
 * `@cornerstonejs/codec-*`, as the Cornerstone/OHIF viewers use them) and registers them with the DICOM reader, so
 * that JPEG baseline, JPEG-LS and JPEG 2000 DICOM files decode. Kept apart from the reader so that importing the
 * library loads no WebAssembly.
 *
 * @module
 */
import {
  type CodecFrame,
  type DicomCodecs,
  dicomCodecsFailed,
  DicomCodecsNeeded,
  dicomCodecsRegistered,
  registerDicomCodecs,
} from "./dicom_pixels.ts";

/** The part of an Emscripten codec decoder these wrappers use. */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
type CodecModule = Record<string, new () => WasmDecoder>;
type Factory = (opts?: Record<string, unknown>) => Promise<CodecModule>;

let loading: Promise<void> | undefined;
const located: Record<string, string> = {};

/** Options of {@linkcode loadDicomCodecs}. */
export interface LoadDicomCodecsOptions {
  /**
   * Where the `.wasm` files are fetched from, as a URL prefix (a browser page: e.g. `"/codecs/"`, which `serve`
   * answers). Default: beside each codec's JavaScript (the npm package's own folder; right for Deno).
   */
  wasmBase?: string;
}

/**
 * The WebAssembly files the loaded decoders were read from, by file name (for a server that hands them to a page).
 *
 * @returns file name → path or URL
 */
export function dicomCodecWasmFiles(): Record<string, string> {
  return { ...located };
}

function wrap(module: CodecModule, decoderName: string): (codestream: Uint8Array) => CodecFrame {
  return (codestream) => {
    const d = new module[decoderName]();
    try {
      d.getEncodedBuffer(codestream.length).set(codestream);
      d.decode();
      const info = d.getFrameInfo();
      const raw = d.getDecodedBuffer();
      // Copy out of the WebAssembly heap before the decoder is freed.
      const samples = info.bitsPerSample > 8
        ? new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + (raw.length & ~1)))
        : raw.slice();
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

/**
 * Loads and registers the WebAssembly DICOM decoders (once; later calls return at once). `predict`, `train`,
 * `evaluate` and `serve` call it when a file needs it; call it yourself before `decodeImageBytes` on JPEG, JPEG-LS or
 * JPEG 2000 DICOM.
 *
 * @example
 * ```ts
 * import { loadDicomCodecs } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await loadDicomCodecs();
 * await loadDicomCodecs(); // already loaded
 * assert.ok(true);
 * ```
 * @param opts where the `.wasm` files are (browsers)
 * @returns when the decoders are registered
 */
export function loadDicomCodecs(opts: LoadDicomCodecsOptions = {}): Promise<void> {
  if (dicomCodecsRegistered()) return Promise.resolve();
  loading ??= (async () => {
    // The codecs log to stdout (OpenJPEG's "[INFO] ..."); keep stdout for appaunet's own output.
    const quiet = {
      print: () => {},
      printErr: () => {},
      locateFile: (file: string, dir: string) => (located[file] = opts.wasmBase ? opts.wasmBase + file : dir + file),
    };
    const [turbo, charls, openjpeg] = await Promise.all([
      import("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs"),
      import("@cornerstonejs/codec-charls/decodewasmjs"),
      import("@cornerstonejs/codec-openjpeg/decodewasmjs"),
    ]).then((ms) => Promise.all(ms.map((m) => (m.default as unknown as Factory)(quiet))));
    const codecs: DicomCodecs = {
      "jpeg-baseline": wrap(turbo, "JPEGDecoder"),
      "jpeg-ls": wrap(charls, "JpegLSDecoder"),
      "jpeg-2000": wrap(openjpeg, "J2KDecoder"),
    };
    registerDicomCodecs(codecs);
  })().catch((e) => {
    loading = undefined;
    const message = `cannot load the DICOM decoders (WebAssembly): ${(e as Error).message}`;
    dicomCodecsFailed(message);
    throw new Error(message);
  });
  return loading;
}

/**
 * Runs a synchronous decode; when it meets a compressed DICOM whose decoders are not loaded yet, loads them (once)
 * and runs it again. Readers that may meet DICOM (`train`'s dataset, `predict`, `serve`) decode through it, so the
 * WebAssembly starts only when a file needs it. A failed start is remembered and named by the file's error.
 *
 * @param decode the decode to run
 * @returns what it returns
 */
export async function withDicomCodecs<T>(decode: () => T): Promise<T> {
  try {
    return decode();
  } catch (e) {
    if (!(e instanceof DicomCodecsNeeded)) throw e;
    await loadDicomCodecs().catch(() => {});
    return decode();
  }
}
