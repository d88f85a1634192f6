/**
 * `serve`: a local HTTP server for a model: `POST /v1/predict` (image bytes in, JSON out) and a page that runs the
 * model in the browser (`GET /`, see `page.ts`), with the model's files under `/model/`.
 *
 * @module
 */
import { openModel } from "../checkpoint/open_model.ts";
import { resolveServeLimits } from "./limits.ts";
import { createHandler } from "./routes.ts";
import { listen } from "./listen.ts";

export type { PredictResponse } from "./routes.ts";

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
  /**
   * The page script's code-split parts by file name (`bundlePage()`'s `chunks`), served beside `/app.js`: the page
   * imports the DICOM decoders' JavaScript from them when a DICOM needs it.
   */
  pageChunks?: Record<string, string>;
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
  const limits = resolveServeLimits(opts);
  const m = await openModel(opts.model);
  const handler = createHandler({
    m,
    shown: publicMetadata(m.metadata),
    limits,
    token: opts.token,
    postprocess: opts.postprocess,
    pageScript: opts.pageScript,
    pageChunks: opts.pageChunks,
    files: opts.files,
  });
  let l;
  try {
    l = await listen(handler, limits, opts.port ?? 8080, opts.signal);
  } catch (e) {
    m.dispose();
    throw e;
  }
  const host = l.addr.hostname.includes(":") ? `[${l.addr.hostname}]` : l.addr.hostname;
  const finished = l.server.finished.then(async () => {
    m.dispose();
    await l.close();
  });
  return {
    url: `http://${host}:${l.addr.port}/`,
    finished,
    shutdown: async () => {
      l.stopAccepting(); // requests in flight finish, relayed, before the relays close
      await l.server.shutdown();
      await finished;
    },
  };
}
