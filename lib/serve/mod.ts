/**
 * Serving a model: the local HTTP API and the in-browser page.
 *
 * @module
 */
export { serveModel } from "./server.ts";
export type { ModelServer, PredictResponse, ServeOptions } from "./server.ts";
