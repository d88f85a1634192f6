/**
 * The server's routes: `POST /v1/predict`, `GET /v1/health`, the page (`/`, `/app.js`), the model's files
 * (`/model/…`, behind the token), the DICOM decoders' WebAssembly (`/codecs/…`) and extra static files.
 *
 * @module
 */
import * as path from "node:path";
import { DataError } from "../data/errors.ts";
import { decodeImageBytes } from "../data/decode.ts";
import { dicomCodecWasmFiles, loadDicomCodecs, withDicomCodecs } from "../data/dicom_codecs.ts";
import { inputLimits } from "../data/load.ts";
import { checkImageGeometry } from "../data/prepare_image.ts";
import { lungMaskAt } from "../data/postprocess.ts";
import { encodeBase64 } from "../report/base64.ts";
import { maskPng } from "../io/overlay.ts";
import type { OpenedModel } from "../checkpoint/open_model.ts";
import { type LoadedModel, predictImage, REDUCED_DECODE } from "../infer/predict_image.ts";
import { APPAUNET_VERSION } from "../checkpoint/version.ts";
import { json } from "./http.ts";
import type { ServeLimits } from "./limits.ts";
import { createBodyReader } from "./body.ts";
import { pageHtml } from "./page_html.ts";

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

/** What the routes serve with. */
export interface RouteContext {
  /** The opened model (its folder, for the model's files). */
  m: OpenedModel;
  /** The metadata as served (no local paths). */
  shown: unknown;
  /** The server's limits. */
  limits: ServeLimits;
  /** Bearer token, if any. */
  token?: string;
  /** Post-process masks. */
  postprocess?: boolean;
  /** The page's script. */
  pageScript?: string;
  /** Its code-split parts, by file name. */
  pageChunks?: Record<string, string>;
  /** Extra static files: URL path → file path. */
  files?: Record<string, string>;
}

/**
 * `POST /v1/predict`: the token, the size and queue limits, the body, the decode, then the model (one request at a
 * time) and the JSON answer.
 */
function createPredictRoute(ctx: RouteContext, auth: (req: Request) => Response | undefined) {
  const { m, limits } = ctx;
  const metadata = m.metadata;
  const model: LoadedModel = { segmentor: m.segmentor, discriminator: m.discriminator, metadata };
  const readBody = createBodyReader(limits);
  let waiting = 0;
  let chain: Promise<unknown> = Promise.resolve();
  // Requests run one at a time on the model.
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  };
  return async (req: Request): Promise<Response> => {
    const denied = auth(req);
    if (denied) return denied;
    const declared = Number(req.headers.get("content-length") ?? NaN);
    if (declared > limits.maxBody) {
      return json(413, { error: `the body is ${declared} bytes; the limit is ${limits.maxBody}` });
    }
    if (waiting >= limits.queue) {
      await req.body?.cancel();
      return json(503, { error: `${waiting} requests are waiting; try again` }, { "retry-after": "1" });
    }
    const bytes = await readBody(req);
    if (bytes instanceof Response) return bytes;
    let image;
    try {
      // JPEG 2000 and HTJ2K decode at the coarsest wavelet level that still has 4× the model's side (REDUCED_DECODE).
      const minSide = REDUCED_DECODE * metadata.size;
      image = await withDicomCodecs(() =>
        decodeImageBytes(bytes, "upload", { maxPixels: inputLimits().maxPixels, minSide })
      );
      checkImageGeometry(image, "upload");
    } catch (e) {
      const msg = (e as Error).message.replace(/^upload: /, "");
      const status = e instanceof DataError && /unsupported format/.test(msg) ? 415 : 400;
      return json(status, { error: msg });
    }
    waiting++;
    try {
      const p = await exclusive(() => predictImage(model, image));
      const { width, height } = image.fullSize ?? image;
      const r: PredictResponse = { width, height };
      if (p.probabilities) [r.probabilities, r.predictedClass] = [p.probabilities, p.predictedClass];
      if (p.mask) {
        const lung = lungMaskAt(p.mask, p.size, width, height, {
          threshold: metadata.threshold,
          postprocess: ctx.postprocess,
        });
        let n = 0;
        for (const v of lung) n += v;
        r.lungFraction = n / lung.length;
        r.maskPng = encodeBase64(maskPng(Float32Array.from(lung), width, height));
      }
      return json(200, r);
    } finally {
      waiting--;
    }
  };
}

/**
 * The request handler of a server.
 *
 * @param ctx the model, limits and options
 * @returns the handler
 */
export function createHandler(ctx: RouteContext): (req: Request) => Promise<Response> {
  const { m, shown } = ctx;
  const authorized = (req: Request) => !ctx.token || req.headers.get("authorization") === `Bearer ${ctx.token}`;
  const unauthorized = () => json(401, { error: "missing or wrong token: send 'Authorization: Bearer <token>'" });
  const predictRoute = createPredictRoute(ctx, (req) => authorized(req) ? undefined : unauthorized());
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
  return async (req: Request): Promise<Response> => {
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
      await loadDicomCodecs().catch(() => {}); // started by the first page that meets a compressed DICOM
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
      return new Response(pageHtml(Boolean(ctx.pageScript)), { headers: { "content-type": "text/html" } });
    }
    if (url.pathname === "/app.js" && ctx.pageScript) {
      return new Response(ctx.pageScript, { headers: { "content-type": "text/javascript" } });
    }
    const chunks = ctx.pageScript ? ctx.pageChunks : undefined;
    if (chunks && Object.hasOwn(chunks, url.pathname.slice(1))) {
      return new Response(chunks[url.pathname.slice(1)], {
        headers: { "content-type": "text/javascript", "cache-control": "max-age=86400" },
      });
    }
    const file = ctx.files?.[url.pathname];
    if (file) {
      const type = { ".js": "text/javascript", ".png": "image/png", ".jpg": "image/jpeg", ".dcm": "application/dicom" }[
        path.extname(file).toLowerCase()
      ] ?? "application/octet-stream";
      return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
    }
    return json(404, { error: `nothing at ${url.pathname}` });
  };
}
