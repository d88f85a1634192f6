/**
 * Small HTTP helpers of the server: JSON responses and the loopback addresses.
 *
 * @module
 */

/** The addresses that reach only this machine (a server there may run without a token). */
export const LOOPBACK: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * A JSON response.
 *
 * @param status HTTP status
 * @param body the value to send
 * @param headers more headers
 * @returns the response
 */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
