/**
 * A TCP front for the HTTP server: a cap on open connections and a deadline for each connection's first request
 * headers and for idleness, which `Deno.serve` does not offer. It accepts on the public address and relays each
 * admitted connection, byte for byte, to the server listening on a Unix socket in a private folder. A connection past
 * the cap gets `503` at once; one that sends no complete request headers within `headerTimeoutMs`, or stays silent in
 * both directions for `idleTimeoutMs`, is closed. (A slow *body* is the server's `bodyTimeoutMs`.)
 *
 * @module
 */

/** Options of {@linkcode guardConnections}. */
export interface ConnectionGuardOptions {
  /** Public address. */
  hostname: string;
  /** Public port (0: any free one). */
  port: number;
  /** The server's Unix socket. */
  target: string;
  /** Most connections open at once. */
  maxConnections: number;
  /** A connection must send its first request's headers (up to the blank line) within this. */
  headerTimeoutMs: number;
  /** A connection silent in both directions this long is closed. */
  idleTimeoutMs: number;
}

/** A running front. */
export interface ConnectionGuard {
  /** The public address it listens on. */
  addr: Deno.NetAddr;
  /** Connections open now. */
  open(): number;
  /** Stops accepting new connections (relayed ones go on). */
  stopAccepting(): void;
  /** Stops accepting and closes every relayed connection. */
  close(): void;
}

const BUSY = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 58\r\n\r\n" +
    '{"error":"too many open connections; retry in a moment"}\n',
);

/**
 * Listens on the public address and relays admitted connections to `target`.
 *
 * @param opts address, target, limits
 * @returns the front
 * @throws {Deno.errors.AddrInUse} and the like, as `Deno.listen` does
 */
export function guardConnections(opts: ConnectionGuardOptions): ConnectionGuard {
  // Long: the accept loop, the relay and the timers share one connection table.
  const listener = Deno.listen({ hostname: opts.hostname, port: opts.port });
  const live = new Set<Deno.Conn>();
  let closed = false, admitted = 0;
  const relay = async (client: Deno.Conn) => {
    let upstream: Deno.Conn | undefined;
    let last = Date.now(), headersSeen = false, head = "", ended = false;
    const started = Date.now();
    const end = () => {
      if (!ended) (ended = true), admitted--;
      for (const c of [client, upstream]) {
        if (!c) continue;
        live.delete(c);
        try {
          c.close();
        } catch { /* already closed */ }
      }
    };
    const timer = setInterval(() => {
      const now = Date.now();
      if ((!headersSeen && now - started > opts.headerTimeoutMs) || now - last > opts.idleTimeoutMs) end();
    }, Math.max(20, Math.min(opts.headerTimeoutMs, opts.idleTimeoutMs) / 4));
    try {
      upstream = await Deno.connect({ transport: "unix", path: opts.target });
      live.add(upstream);
      const pump = async (from: Deno.Conn, to: Deno.Conn, fromClient: boolean) => {
        const buf = new Uint8Array(64 * 1024);
        while (true) {
          const n = await from.read(buf);
          if (n === null) break;
          last = Date.now();
          if (fromClient && !headersSeen) {
            head = (head + new TextDecoder().decode(buf.subarray(0, n))).slice(-16 * 1024);
            headersSeen = head.includes("\r\n\r\n");
          }
          let off = 0;
          while (off < n) off += await to.write(buf.subarray(off, n));
        }
      };
      await Promise.race([pump(client, upstream, true), pump(upstream, client, false)]);
    } catch {
      /* a side closed or reset: end both */
    } finally {
      clearInterval(timer);
      end();
    }
  };
  (async () => {
    for await (const conn of listener) {
      if (closed) {
        conn.close();
        continue;
      }
      if (admitted >= opts.maxConnections) {
        conn.write(BUSY).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch { /* already closed */ }
        });
        continue;
      }
      live.add(conn);
      admitted++;
      void relay(conn);
    }
  })().catch(() => {/* the listener was closed */});
  return {
    addr: listener.addr as Deno.NetAddr,
    open: () => admitted,
    stopAccepting() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch { /* already closed */ }
    },
    close() {
      this.stopAccepting();
      for (const c of live) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      live.clear();
    },
  };
}
