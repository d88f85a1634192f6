/**
 * Reads a request body within the server's limits: at most `maxBody` bytes whatever the client declared, within
 * `bodyTimeout` milliseconds (a slow client gets 408 and its memory back), with at most `maxRequests` bodies being
 * received at once (more get 503 at once).
 *
 * @module
 */
import { json } from "./http.ts";
import type { ServeLimits } from "./limits.ts";

/**
 * A body reader for one server (it counts the bodies being received).
 *
 * @param limits the server's limits
 * @returns a function giving a request's body bytes, or the error response to send instead (400/408/413/503)
 */
export function createBodyReader(limits: ServeLimits): (req: Request) => Promise<Uint8Array | Response> {
  const { maxBody, bodyTimeout, maxRequests } = limits;
  let receiving = 0;
  return async (req) => {
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
    return bytes;
  };
}
