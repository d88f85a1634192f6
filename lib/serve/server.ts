/**
 * `serve`: a local HTTP server for a model: `POST /v1/predict` (image bytes in, JSON out) and a page that runs the
 * model in the browser (`GET /`, see `page.ts`), with the model's files under `/model/`.
 *
 * @module
 */
import * as path from "node:path";
import { DataError } from "../data/errors.ts";
import { decodeImageBytes } from "../data/decode.ts";
import { dicomCodecWasmFiles, tryLoadDicomCodecs } from "../data/dicom_codecs.ts";
import { inputLimits } from "../data/load.ts";
import { checkImageGeometry } from "../data/prepare_image.ts";
import { lungMaskAt } from "../data/postprocess.ts";
import { encodeBase64 } from "../report/base64.ts";
import { maskPng } from "../io/overlay.ts";
import { openModel } from "../checkpoint/open_model.ts";
import { type ConnectionGuard, guardConnections } from "./connection_guard.ts";
import { type LoadedModel, predictImage } from "../infer/predict_image.ts";
import { APPAUNET_VERSION } from "../checkpoint/version.ts";

/** Options of {@linkcode serveModel}. */
export interface ServeOptions {
  /** Checkpoint or exported model folder, or `"pretrained"`. */
  model: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1` (this machine only). */
  hostname?: string;
  /**
   * Bearer token required on `POST /v1/predict` (`Authorization: Bearer <token>`). Required when `hostname` is not a
   * loopback address. Default: none.
   */
  token?: string;
  /** Largest request body in bytes. Default 32 MiB. */
  maxBodyBytes?: number;
  /** Requests that may wait for the model at once; more get 503. Default 8. */
  queue?: number;
  /** Clean each mask (two largest components, holes filled; see `cleanMask`). Default `true`. */
  postprocess?: boolean;
  /**
   * Milliseconds a client has to send a whole request body; a slower one gets 408 and its connection's memory back.
   * Default 30 000.
   */
  bodyTimeoutMs?: number;
  /** Prediction requests being received or waiting at once; more get 503 at once (slow clients cannot pile up). Default 64. */
  maxRequests?: number;
  /** Connections open at once (idle keep-alive ones included); more get 503 at once. Default 256. */
  maxConnections?: number;
  /** Milliseconds a new connection has to send its request headers; then it is closed. Default 10 000. */
  headerTimeoutMs?: number;
  /** Milliseconds a connection may stay silent in both directions; then it is closed. Default 60 000. */
  idleTimeoutMs?: number;
  /** The browser page's script (a bundle of `page.ts`); without it `GET /` says how to get the page. */
  pageScript?: string;
  /** Extra static files to serve: URL path → file path (e.g. sample images for the page). */
  files?: Record<string, string>;
  /** Stop serving. */
  signal?: AbortSignal;
}

/** A running server. */
export interface ModelServer {
  /** The address it listens on, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /** Stops the server and frees the model. */
  shutdown(): Promise<void>;
}

/** The JSON of a successful `POST /v1/predict`. */
export interface PredictResponse {
  /** The image's own width and height (the mask has this size). */
  width: number;
  /** See `width`. */
  height: number;
  /** Class probabilities by class name (mtl/cls). */
  probabilities?: Record<string, number>;
  /** The most probable class (mtl/cls). */
  predictedClass?: string;
  /** Share of the image's pixels predicted as lung (seg/mtl). */
  lungFraction?: number;
  /** The lung mask as an 8-bit PNG (0/255) at the image's size, base64 (seg/mtl). */
  maskPng?: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * The metadata as served: without local paths (the training manifest's and the run folder's), which tell a client
 * about the server's disk and nothing about the model.
 */
function publicMetadata<T extends Record<string, unknown>>(meta: T): T {
  const training = meta.training as Record<string, unknown> | undefined;
  if (!training) return meta;
  const { data: _data, out: _out, ...rest } = training;
  return { ...meta, training: rest };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/**
 * Starts the server. `POST /v1/predict` takes the raw bytes of one PNG, JPEG or DICOM image and answers with a
 * {@linkcode PredictResponse}; errors are JSON `{ "error": "…" }` with 400 (empty or undecodable body), 401 (token),
 * 404, 405, 413 (body too large), 415 (not an image) or 503 (queue full, with `Retry-After`). Requests run one at a
 * time on the model; up to `queue` wait.
 *
 * @example
 * ```ts
 * import { initBackend, serveModel, train, writePhantomDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * await writePhantomDataset(`${dir}/data`, { count: 12, size: 32 });
 * const data = `${dir}/data/manifest.csv`;
 * const small = { baseFilters: 4 }; // a tiny model, so that the example runs in seconds
 * await train({ data, out: `${dir}/run`, size: 32, epochs: 1, batchSize: 4, segmentor: small, discriminator: small, progress: "none" });
 * const s = await serveModel({ model: `${dir}/run/checkpoints/best`, port: 0 }); // or model: "pretrained"
 * const [image] = [...Deno.readDirSync(`${dir}/data/images`)].map((e) => `${dir}/data/images/${e.name}`);
 * const r = await fetch(new URL("v1/predict", s.url), { method: "POST", body: await Deno.readFile(image) });
 * assert.equal(r.status, 200);
 * const body = await r.json();
 * assert.ok(typeof body.lungFraction === "number");
 * await s.shutdown();
 * ```
 * @param opts model, address, token, limits
 * @returns the running server
 * @throws {Error} when listening beyond this machine without a token, or the model cannot be loaded
 */
export async function serveModel(opts: ServeOptions): Promise<ModelServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  if (!LOOPBACK.has(hostname) && !opts.token) {
    throw new Error(
      `--host ${hostname}: listening beyond this machine needs --token <secret> (clients send ` +
        "'Authorization: Bearer <secret>')",
    );
  }
  const maxBody = opts.maxBodyBytes ?? 32 * 2 ** 20, queue = opts.queue ?? 8;
  if (!(Number.isInteger(queue) && queue >= 1)) {
    throw new Error(`queue (--queue): must be an integer ≥ 1 (requests that may wait), got ${queue}`);
  }
  if (!(maxBody > 0)) throw new Error(`maxBodyBytes (--max-mb): must be > 0, got ${maxBody}`);
  const bodyTimeout = opts.bodyTimeoutMs ?? 30_000, maxRequests = opts.maxRequests ?? 64;
  if (!(bodyTimeout > 0)) throw new Error(`bodyTimeoutMs: must be > 0, got ${bodyTimeout}`);
  if (!(Number.isInteger(maxRequests) && maxRequests >= 1)) {
    throw new Error(`maxRequests: must be an integer ≥ 1, got ${maxRequests}`);
  }
  const maxConnections = opts.maxConnections ?? 256;
  const headerTimeoutMs = opts.headerTimeoutMs ?? 10_000, idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  if (!(Number.isInteger(maxConnections) && maxConnections >= 1)) {
    throw new Error(`maxConnections (--max-connections): must be an integer ≥ 1, got ${maxConnections}`);
  }
  if (!(headerTimeoutMs > 0)) throw new Error(`headerTimeoutMs: must be > 0, got ${headerTimeoutMs}`);
  if (!(idleTimeoutMs > 0)) throw new Error(`idleTimeoutMs: must be > 0, got ${idleTimeoutMs}`);
  let receiving = 0;
  await tryLoadDicomCodecs(); // uploads may be compressed DICOM
  const m = await openModel(opts.model);
  const metadata = m.metadata;
  const shown = publicMetadata(metadata);
  const authorized = (req: Request) => !opts.token || req.headers.get("authorization") === `Bearer ${opts.token}`;
  const unauthorized = () => json(401, { error: "missing or wrong token: send 'Authorization: Bearer <token>'" });
  const model: LoadedModel = { segmentor: m.segmentor, discriminator: m.discriminator, metadata };
  let waiting = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  };
  const modelFile = async (rel: string): Promise<Response> => {
    const allowed = /^(metadata\.json|(segmentor|discriminator)\/(model\.json|weights\.bin))$/;
    if (!allowed.test(rel)) return json(404, { error: `no model file ${rel}` });
    if (rel === "metadata.json") return json(200, shown);
    try {
      const bytes = await Deno.readFile(path.join(m.dir, rel));
      return new Response(bytes, {
        headers: { "content-type": rel.endsWith(".json") ? "application/json" : "application/octet-stream" },
      });
    } catch {
      return json(404, { error: `no model file ${rel}` });
    }
  };
  const predictRoute = async (req: Request): Promise<Response> => {
    if (!authorized(req)) return unauthorized();
    const declared = Number(req.headers.get("content-length") ?? NaN);
    if (declared > maxBody) return json(413, { error: `the body is ${declared} bytes; the limit is ${maxBody}` });
    if (waiting >= queue) {
      await req.body?.cancel();
      return json(503, { error: `${waiting} requests are waiting; try again` }, { "retry-after": "1" });
    }
    // Read the body up to the limit (a client may send more than it declared, or no length at all).
    if (receiving >= maxRequests) {
      await req.body?.cancel().catch(() => {});
      return json(503, { error: `${receiving} requests are being received; try again` }, { "retry-after": "1" });
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    receiving++;
    try {
      if (req.body) {
        const reader = req.body.getReader();
        const deadline = Date.now() + bodyTimeout;
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          for (;;) {
            const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), deadline - Date.now())));
            const next = await Promise.race([reader.read(), late]);
            clearTimeout(timer);
            if (next === "late") {
              return json(408, { error: `the body did not arrive within ${bodyTimeout / 1000} s` }, {
                connection: "close",
              });
            }
            if (next.done) break;
            size += next.value.length;
            if (size > maxBody) return json(413, { error: `the body is over the limit of ${maxBody} bytes` });
            chunks.push(next.value);
          }
        } finally {
          clearTimeout(timer);
          reader.cancel().catch(() => {});
        }
      }
    } finally {
      receiving--;
    }
    if (size === 0) return json(400, { error: "the body is empty: send the bytes of one PNG, JPEG or DICOM image" });
    const bytes = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    let image;
    try {
      image = decodeImageBytes(bytes, "upload", inputLimits().maxPixels);
      checkImageGeometry(image, "upload");
    } catch (e) {
      const msg = (e as Error).message.replace(/^upload: /, "");
      const status = e instanceof DataError && /unsupported format/.test(msg) ? 415 : 400;
      return json(status, { error: msg });
    }
    waiting++;
    try {
      const p = await exclusive(() => predictImage(model, image));
      const r: PredictResponse = { width: image.width, height: image.height };
      if (p.probabilities) [r.probabilities, r.predictedClass] = [p.probabilities, p.predictedClass];
      if (p.mask) {
        const lung = lungMaskAt(p.mask, p.size, image.width, image.height, {
          threshold: metadata.threshold,
          postprocess: opts.postprocess,
        });
        let n = 0;
        for (const v of lung) n += v;
        r.lungFraction = n / lung.length;
        r.maskPng = encodeBase64(maskPng(Float32Array.from(lung), image.width, image.height));
      }
      return json(200, r);
    } finally {
      waiting--;
    }
  };
  const handler = async (req: Request): Promise<Response> => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return json(400, { error: "the request's Host header or target is not valid" });
    }
    if (url.pathname === "/v1/predict") {
      if (req.method !== "POST") return json(405, { error: "POST the image bytes" }, { allow: "POST" });
      return await predictRoute(req);
    }
    if (req.method !== "GET") return json(405, { error: "only GET here" }, { allow: "GET" });
    // Without the token (when one is set) only liveness: nothing about the model.
    if (url.pathname === "/v1/health") {
      return json(200, authorized(req) ? { ok: true, version: APPAUNET_VERSION, model: shown } : { ok: true });
    }
    // The DICOM decoders' WebAssembly, for the page (library code, not the model: no token).
    if (url.pathname.startsWith("/codecs/")) {
      const wasm = dicomCodecWasmFiles()[url.pathname.slice("/codecs/".length)];
      if (!wasm) return json(404, { error: `nothing at ${url.pathname}` });
      return new Response(await Deno.readFile(wasm), {
        headers: { "content-type": "application/wasm", "cache-control": "max-age=86400" },
      });
    }
    if (url.pathname.startsWith("/model/")) {
      if (!authorized(req)) return unauthorized();
      return await modelFile(url.pathname.slice("/model/".length));
    }
    if (url.pathname === "/") {
      return new Response(pageHtml(Boolean(opts.pageScript)), { headers: { "content-type": "text/html" } });
    }
    if (url.pathname === "/app.js" && opts.pageScript) {
      return new Response(opts.pageScript, { headers: { "content-type": "text/javascript" } });
    }
    const file = opts.files?.[url.pathname];
    if (file) {
      const type = { ".js": "text/javascript", ".png": "image/png", ".jpg": "image/jpeg", ".dcm": "application/dicom" }[
        path.extname(file).toLowerCase()
      ] ?? "application/octet-stream";
      return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
    }
    return json(404, { error: `nothing at ${url.pathname}` });
  };
  // The server listens on a Unix socket in a private folder; a TCP front (connection_guard.ts) caps open connections
  // and closes silent ones, which Deno.serve cannot. Where Unix sockets are not offered (Windows), it listens directly.
  const guarded = Deno.build.os !== "windows";
  const socketDir = guarded ? await Deno.makeTempDir({ prefix: "appaunet-serve-" }) : undefined;
  const removeSocketDir = () => socketDir ? Deno.remove(socketDir, { recursive: true }).catch(() => {}) : undefined;
  let server: Deno.HttpServer;
  let guard: ConnectionGuard | undefined;
  let addr: Deno.NetAddr;
  const port = opts.port ?? 8080;
  try {
    if (socketDir) {
      const socket = `${socketDir}/http.sock`;
      let listened!: () => void;
      const listening = new Promise<void>((r) => (listened = r));
      server = Deno.serve({
        path: socket,
        signal: opts.signal,
        onListen: () => listened(),
        onError: (e) => json(500, { error: (e as Error).message }),
      }, handler);
      await listening;
      try {
        guard = guardConnections({ hostname, port, target: socket, maxConnections, headerTimeoutMs, idleTimeoutMs });
      } catch (e) {
        await server.shutdown();
        throw e;
      }
      addr = guard.addr;
      opts.signal?.addEventListener("abort", () => guard!.stopAccepting(), { once: true });
    } else {
      let listened!: (a: Deno.NetAddr) => void;
      const listening = new Promise<Deno.NetAddr>((r) => (listened = r));
      server = Deno.serve({
        port,
        hostname,
        signal: opts.signal,
        onListen: (a) => listened(a as Deno.NetAddr),
        onError: (e) => json(500, { error: (e as Error).message }),
      }, handler);
      addr = await listening;
    }
  } catch (e) {
    m.dispose();
    await removeSocketDir();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Error(`--port ${port}: another program listens on ${hostname}:${port}; pick another --port`);
    }
    if (e instanceof Deno.errors.AddrNotAvailable || e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`--host ${hostname} --port ${port}: cannot listen there (${(e as Error).message})`);
    }
    throw e;
  }
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const finished = server.finished.then(async () => {
    guard?.close();
    m.dispose();
    await removeSocketDir();
  });
  return {
    url: `http://${host}:${addr.port}/`,
    finished,
    shutdown: async () => {
      guard?.stopAccepting(); // requests in flight finish, relayed, before the relays close
      await server.shutdown();
      await finished;
    },
  };
}

/** The page: a drop zone, a canvas, the numbers, and `#result` holding the prediction as JSON for scripts. */
function pageHtml(withScript: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>appaunet</title>
<style>body{font:15px system-ui,sans-serif;margin:24px;max-width:900px}#drop{border:2px dashed #888;padding:24px;
text-align:center;border-radius:8px}#drop.over{background:#eef}canvas{width:min(100%,512px);height:auto;margin-top:12px}
#error{color:#b00}#status{color:#555}</style></head><body>
<h1>appaunet: lungs and TB from a chest X-ray</h1>
<p>Research software, not for diagnosis. The image stays in this browser: the model runs here.</p>
<div id="drop">Drop a PNG, JPEG or DICOM chest X-ray here, or <input id="file" type="file"
accept=".png,.jpg,.jpeg,.dcm,image/png,image/jpeg,application/dicom"></div>
<p id="status">${withScript ? "loading the model…" : "the page script is not available: start with appaunet serve"}</p>
<p id="error"></p><div id="numbers"></div><canvas id="canvas"></canvas>
<pre id="result" hidden></pre>
${withScript ? '<script type="module" src="/app.js"></script>' : ""}
</body></html>`;
}
