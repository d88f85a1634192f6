/**
 * Serving a model: the local HTTP API and the in-browser page.
 *
 * @module
 */
export * from "./server.ts";
