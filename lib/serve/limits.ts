/**
 * The server's limits, resolved from its options with their defaults and checked, each error naming the option and
 * its flag.
 *
 * @module
 */
import { LOOPBACK } from "./http.ts";

/** The options the limits come from (see `ServeOptions` in server.ts for what each means). */
export interface LimitOptions {
  hostname?: string;
  token?: string;
  maxBodyBytes?: number;
  queue?: number;
  bodyTimeoutMs?: number;
  maxRequests?: number;
  maxConnections?: number;
  headerTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/** The resolved limits. */
export interface ServeLimits {
  hostname: string;
  maxBody: number;
  queue: number;
  bodyTimeout: number;
  maxRequests: number;
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * Resolves and checks the limits; refuses listening beyond this machine without a token.
 *
 * @param opts the server's options
 * @returns the limits
 * @throws {Error} naming the option (and flag) and the accepted values
 */
export function resolveServeLimits(opts: LimitOptions): ServeLimits {
  const hostname = opts.hostname ?? "127.0.0.1";
  if (!LOOPBACK.has(hostname) && !opts.token) {
    throw new Error(
      `hostname (--host ${hostname}): listening beyond this machine needs token (--token <secret>) (clients send ` +
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
  return { hostname, maxBody, queue, bodyTimeout, maxRequests, maxConnections, headerTimeoutMs, idleTimeoutMs };
}
